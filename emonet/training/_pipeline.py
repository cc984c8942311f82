"""The input pipeline of a feature set: :class:`FaceBatches` on any backend, or the same
batches through ``tf.data`` on TensorFlow (:mod:`emonet.training._data_tf`)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import keras
import numpy as np

from emonet._choices import PIPELINES
from emonet.features import FeatureSet
from emonet.training._augment import AugmentConfig
from emonet.training._data import FaceBatches

__all__ = ["PIPELINES", "make_dataset"]

# PIPELINES (from emonet._choices): ``"py"`` (:class:`FaceBatches`, any backend), ``"tf"``
# (``tf.data``, TensorFlow only), ``"auto"`` (see :func:`make_dataset`).


def make_dataset(
    data: FeatureSet,
    *,
    use_features: bool,
    batch_size: int = 64,
    shuffle: bool = False,
    augment: AugmentConfig | None = None,
    labels: bool = True,
    class_weights: Sequence[float] | np.ndarray | None = None,
    targets: np.ndarray | None = None,
    mixup: float = 0.0,
    seed: int | None = None,
    drop_remainder: bool = False,
    pipeline: str = "auto",
    workers: int | None = None,
    use_multiprocessing: bool = False,
    pad_to: int = 1,
    shard: tuple[int, int] = (0, 1),
):
    """The input pipeline of a feature set: :class:`FaceBatches`, or ``tf.data`` on it.

    Parameters
    ----------
    data, use_features, batch_size, shuffle, augment, labels, class_weights, targets,
    mixup, seed, drop_remainder, use_multiprocessing, pad_to, shard
        As :class:`FaceBatches`.
    workers : int, optional
        :class:`FaceBatches`' workers (default: up to 4 threads), or ``tf.data``'s
        parallel calls (default: autotuned).
    pipeline : {"auto", "py", "tf"}, default="auto"
        ``"py"``: the :class:`FaceBatches` itself, for any backend. ``"tf"``: a
        ``tf.data.Dataset`` of the same batches (TensorFlow backend only), that makes
        ``workers`` batches at once in TensorFlow's threads. ``"auto"``: ``"tf"`` on the
        TensorFlow backend with thread workers, else ``"py"``.

    Returns
    -------
    FaceBatches or tf.data.Dataset
        A ``tf.data.Dataset`` serves the epoch its :class:`FaceBatches` (its
        ``face_batches`` attribute) is at when it is iterated.

    Raises
    ------
    ValueError
        As :class:`FaceBatches`; or ``pipeline="tf"`` on another backend.

    Examples
    --------
    >>> from emonet.features import load_features
    >>> from emonet.training import make_dataset
    >>> train = load_features("fer2013.h5", usage="Training")  # doctest: +SKIP
    >>> ds = make_dataset(train, use_features=True, shuffle=True)  # doctest: +SKIP
    """
    if pipeline not in PIPELINES:
        raise ValueError(f"unknown pipeline {pipeline!r}; choose one of {', '.join(PIPELINES)}")
    tensorflow = keras.backend.backend() == "tensorflow"
    if pipeline == "tf" and not tensorflow:
        raise ValueError(
            f"pipeline 'tf' needs the TensorFlow backend (this is {keras.backend.backend()!r})"
        )
    batches = FaceBatches(
        data,
        use_features=use_features,
        batch_size=batch_size,
        shuffle=shuffle,
        augment=augment,
        labels=labels,
        class_weights=class_weights,
        targets=targets,
        mixup=mixup,
        seed=seed,
        drop_remainder=drop_remainder,
        workers=workers or min(4, os.cpu_count() or 1),
        use_multiprocessing=use_multiprocessing,
        pad_to=pad_to,
        shard=shard,
    )
    if pipeline == "py" or (pipeline == "auto" and (not tensorflow or use_multiprocessing)):
        return batches
    from emonet.training._data_tf import tf_dataset  # imports TensorFlow

    return tf_dataset(batches, parallel_calls=workers)
