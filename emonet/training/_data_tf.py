"""The TensorFlow fast path of the input pipeline: :class:`FaceBatches` through ``tf.data``.

The batches are those of :class:`~emonet.training.FaceBatches` (same order, same
augmentation for a seed); ``tf.data`` makes several at once in its own threads through
``tf.numpy_function``, prefetches them, and shards them by data over the workers of a
``tf.distribute`` strategy. Imported only on the TensorFlow backend.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from emonet._constants import FACE_SIZE, NUM_CLASSES
from emonet.models import FACE_INPUT, FEATURES_INPUT
from emonet.training._data import FaceBatches

__all__ = ["tf_dataset"]


def tf_dataset(batches: FaceBatches, parallel_calls: int | None = None) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of the batches of ``batches``' current epoch.

    Parameters
    ----------
    batches : FaceBatches
        The batches; the dataset serves the epoch ``batches.epoch`` names when it is
        iterated (Keras iterates it anew every epoch).
    parallel_calls : int, optional
        Batches made at once; default ``tf.data.AUTOTUNE``.

    Returns
    -------
    tf.data.Dataset
        With a ``face_batches`` attribute: ``batches``.
    """
    keys = ["images"]
    dtypes = [tf.float32 if batches.soft_targets and batches.mixup else tf.uint8]
    if batches.features is not None:
        keys.append("features")
        dtypes.append(tf.float32)
    if batches.labels is not None:
        keys.append("labels")
        dtypes.append(tf.int64)
        if batches.soft_targets:
            keys.append("targets")
            dtypes.append(tf.float32)
        if batches.class_weights is not None or batches.pad_to > 1:
            keys.append("weights")
            dtypes.append(tf.float32)
    shapes = {
        "images": (None, FACE_SIZE, FACE_SIZE),
        "features": (None, None if batches.features is None else batches.features.shape[1]),
        "labels": (None,),
        "targets": (None, NUM_CLASSES),
        "weights": (None,),
    }

    def make(index: np.ndarray) -> list[np.ndarray]:
        arrays = batches.batch(int(index))
        return [arrays[key] for key in keys]

    def load(index):
        values = tf.numpy_function(make, [index], dtypes, stateful=True)
        for value, key in zip(values, keys, strict=True):
            value.set_shape(shapes[key])
        return dict(zip(keys, values, strict=True))

    def to_model(element):
        inputs = {FACE_INPUT: tf.cast(element["images"], tf.float32)[..., None]}
        if "features" in element:
            inputs[FEATURES_INPUT] = element["features"]
        if "labels" not in element:
            return inputs
        targets = element.get("targets")
        if targets is None:
            targets = tf.one_hot(element["labels"], NUM_CLASSES, dtype=tf.float32)
        if "weights" not in element:
            return inputs, targets
        return inputs, targets, element["weights"]

    ds = tf.data.Dataset.range(len(batches)).map(
        load, num_parallel_calls=parallel_calls or tf.data.AUTOTUNE, deterministic=True
    )
    ds = ds.map(to_model, num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    # shard by data when a strategy distributes the dataset over workers
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    ds = ds.with_options(options).prefetch(tf.data.AUTOTUNE)
    ds.face_batches = batches
    return ds
