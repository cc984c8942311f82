"""``tf.data`` pipelines from a features file: faces, features, one-hot labels.

The arrays live in memory as tensors; each batch is gathered by index inside the graph,
so there is no Python loop per face. Augmentation (:mod:`emonet.models._augment`) is
numpy and OpenCV code run on whole batches through ``tf.numpy_function``, in parallel
calls, with prefetching.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from emonet._constants import FACE_SIZE, FEATURE_SIZE, LABELS, NUM_CLASSES
from emonet.features import FeatureSet
from emonet.models._augment import AugmentConfig, augment_batch
from emonet.models._fusion import FACE_INPUT, FEATURES_INPUT

__all__ = ["balanced_class_weights", "make_dataset"]


def balanced_class_weights(labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Class weights inversely proportional to class frequency (scikit-learn's "balanced").

    ``n_samples / (n_classes * count)``, so that every class carries the same total weight;
    a class without samples gets weight 0.

    Parameters
    ----------
    labels : (N,) int
        Label indices.
    num_classes : int, default=7

    Returns
    -------
    (num_classes,) float64

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.models import balanced_class_weights
    >>> balanced_class_weights(np.array([0, 0, 0, 1]), 2).tolist()
    [0.6666666666666666, 2.0]
    """
    labels = np.asarray(labels)
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = np.count_nonzero(counts)
    with np.errstate(divide="ignore"):
        weights = np.where(counts > 0, len(labels) / (present * counts), 0.0)
    return weights


def _check_set(data: FeatureSet, use_features: bool, labelled: bool, what: str) -> None:
    if len(data) == 0:
        raise ValueError(f"{what}: no faces")
    if data.images.shape[1:] != (FACE_SIZE, FACE_SIZE):
        raise ValueError(f"{what}: faces must be {FACE_SIZE}x{FACE_SIZE}, got {data.images.shape}")
    if use_features and data.features.shape[1] != FEATURE_SIZE:
        raise ValueError(
            f"{what}: features have {data.features.shape[1]} values; the model needs "
            f"{FEATURE_SIZE} (landmarks + HOG of emonet-extract-features)"
        )
    if labelled:
        unknown = int(np.count_nonzero(data.labels < 0))
        if unknown:
            raise ValueError(
                f"{what}: {unknown} faces have no label (-1); training needs labelled faces"
            )
        if data.labels.max() >= NUM_CLASSES:
            raise ValueError(f"{what}: labels must lie in 0..{NUM_CLASSES - 1} ({LABELS})")


def make_dataset(
    data: FeatureSet,
    *,
    use_features: bool,
    batch_size: int = 64,
    shuffle: bool = False,
    augment: AugmentConfig | None = None,
    labels: bool = True,
    class_weights: Sequence[float] | np.ndarray | None = None,
    seed: int | None = None,
    drop_remainder: bool = False,
    parallel_calls: int | None = None,
) -> tf.data.Dataset:
    """A batched ``tf.data.Dataset`` of model inputs (and targets) from a feature set.

    Elements are ``inputs`` or ``(inputs, targets)`` or ``(inputs, targets, weights)``,
    where ``inputs`` is ``{"face": (B, 48, 48, 1) float32}`` plus ``"features": (B, 2728)
    float32`` when ``use_features``, and ``targets`` are one-hot ``(B, 7)`` float32.

    Parameters
    ----------
    data : FeatureSet
        Faces, features and labels, e.g. ``load_features(path, usage="Training")``.
    use_features : bool
        Whether to feed the feature vector (the model has a feature branch).
    batch_size : int, default=64
    shuffle : bool, default=False
        Reshuffle the faces every epoch.
    augment : AugmentConfig, optional
        Random geometric augmentation, run on each batch; ``None`` for none.
    labels : bool, default=True
        Yield one-hot targets (every face must be labelled).
    class_weights : (7,) array, optional
        Yield a per-face sample weight from the face's class.
    seed : int, optional
        Seed of the shuffling and augmentation streams.
    drop_remainder : bool, default=False
        Drop the last, smaller batch (keeps batch statistics steady in training).
    parallel_calls : int, optional
        Parallel augmentation calls; default ``tf.data.AUTOTUNE``.

    Returns
    -------
    tf.data.Dataset

    Raises
    ------
    ValueError
        If the set is empty, has unlabelled faces when ``labels=True``, or features of the
        wrong size.

    Examples
    --------
    >>> from emonet.features import load_features
    >>> from emonet.models import make_dataset
    >>> train = load_features("fer2013.h5", usage="Training")  # doctest: +SKIP
    >>> ds = make_dataset(train, use_features=True, shuffle=True)  # doctest: +SKIP
    """
    _check_set(data, use_features, labels, "dataset")
    n = len(data)
    images = tf.constant(np.ascontiguousarray(data.images, dtype=np.uint8))
    features = (
        tf.constant(np.ascontiguousarray(data.features, dtype=np.float32))
        if use_features
        else None
    )
    label_tensor = tf.constant(data.labels.astype(np.int64)) if labels else None
    weight_tensor = (
        tf.constant(np.asarray(class_weights, dtype=np.float32))
        if class_weights is not None
        else None
    )
    if weight_tensor is not None and not labels:
        raise ValueError("class_weights need labels")

    indices = tf.data.Dataset.range(n)
    if shuffle:
        indices = indices.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    batches = indices.batch(batch_size, drop_remainder=drop_remainder)
    augmenting = augment is not None and augment.enabled
    if augmenting:
        # one random seed per batch, new every epoch: augmentation differs between epochs
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        batches = tf.data.Dataset.zip(batches, seeds)
    else:
        batches = batches.map(lambda idx: (idx, tf.constant(0, tf.int64)))

    def gather(idx, batch_seed):
        element = {"images": tf.gather(images, idx), "seed": batch_seed}
        if features is not None:
            element["features"] = tf.gather(features, idx)
        if label_tensor is not None:
            element["labels"] = tf.gather(label_tensor, idx)
        return element

    ds = batches.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    if augmenting:
        config = augment

        def run_numpy(batch_images, batch_features, batch_seed):
            rng = np.random.default_rng(int(batch_seed) & 0xFFFFFFFFFFFF)
            warped, moved = augment_batch(
                batch_images, batch_features if use_features else None, config, rng
            )
            if moved is None:
                moved = batch_features
            return warped, moved.astype(np.float32, copy=False)

        def augment_element(element):
            batch_features = element.get("features", tf.zeros((0, FEATURE_SIZE), tf.float32))
            warped, moved = tf.numpy_function(
                run_numpy,
                [element["images"], batch_features, element["seed"]],
                [tf.uint8, tf.float32],
                stateful=False,
            )
            warped.set_shape(element["images"].shape)
            element = dict(element, images=warped)
            if features is not None:
                moved.set_shape(element["features"].shape)
                element["features"] = moved
            return element

        ds = ds.map(
            augment_element,
            num_parallel_calls=parallel_calls or tf.data.AUTOTUNE,
            deterministic=False,
        )

    def to_model(element):
        inputs = {FACE_INPUT: tf.cast(element["images"], tf.float32)[..., None]}
        if features is not None:
            inputs[FEATURES_INPUT] = element["features"]
        if label_tensor is None:
            return inputs
        targets = tf.one_hot(element["labels"], NUM_CLASSES, dtype=tf.float32)
        if weight_tensor is None:
            return inputs, targets
        return inputs, targets, tf.gather(weight_tensor, element["labels"])

    ds = ds.map(to_model, num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    # shard by data when a strategy distributes the dataset over workers
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
