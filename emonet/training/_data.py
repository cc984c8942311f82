"""The batches of the input pipeline: faces, features and one-hot labels, on any backend.

:class:`FaceBatches` is a :class:`keras.utils.PyDataset`: Keras feeds it to a model on
TensorFlow, JAX and PyTorch alike, from worker threads or processes. Each batch is
gathered by numpy fancy indexing and augmented by the numpy and OpenCV code of
:mod:`emonet.training._augment` (face warped, landmarks moved, HOG recomputed). The
order of an epoch and the random draws of each batch are functions of ``(seed, epoch,
batch)`` only, so batches do not depend on which worker makes them, or in what order,
and a resumed run sees the batches the interrupted one would have seen.

On TensorFlow, ``pipeline="tf"`` runs the same batches through ``tf.data`` instead
(:mod:`emonet.training._data_tf`); :func:`~emonet.training.make_dataset`
(:mod:`emonet.training._pipeline`) chooses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np

from emonet._constants import FACE_SIZE, FEATURE_SIZE, LABELS, NUM_CLASSES
from emonet.features import FeatureSet
from emonet.models import FACE_INPUT, FEATURES_INPUT
from emonet.training._augment import AugmentConfig, augment_batch, mixup_batch

__all__ = ["FaceBatches", "balanced_class_weights"]


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
    >>> from emonet.training import balanced_class_weights
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


class FaceBatches(keras.utils.PyDataset):
    """Batches of model inputs (and targets) from a feature set, for any Keras backend.

    Batch ``i`` of epoch ``e`` is ``inputs`` or ``(inputs, targets)`` or ``(inputs,
    targets, weights)``, where ``inputs`` is ``{"face": (B, 48, 48, 1) float32}`` plus
    ``"features": (B, 2728) float32`` when ``use_features``, and ``targets`` are ``(B, 7)``
    float32: one-hot labels, or the given ``targets`` (a teacher's probabilities), mixed
    by mixup when asked. It depends on ``(seed, e, i)`` only.

    Parameters
    ----------
    data : FeatureSet
        Faces, features and labels, e.g. ``load_features(path, usage="Training")``.
    use_features : bool
        Whether to feed the feature vector (the model has a feature branch).
    batch_size : int, default=64
    shuffle : bool, default=False
        A new order every epoch.
    augment : AugmentConfig, optional
        Random geometric augmentation of each batch; ``None`` for none.
    labels : bool, default=True
        Yield one-hot targets (every face must be labelled).
    class_weights : (7,) array, optional
        Yield a per-face sample weight from the face's class.
    targets : (N, 7) array, optional
        Target probabilities of each face, instead of its one-hot label (distillation);
        needs ``labels=True``.
    mixup : float, default=0.0
        Beta parameter of mixup (:func:`~emonet.training.mixup_batch`) applied to each
        batch after augmentation; 0 for none. Needs ``labels=True``.
    seed : int, optional
        Seed of the order and the augmentation; ``None`` draws one.
    drop_remainder : bool, default=False
        Drop the last, smaller batch (keeps batch statistics steady in training).
    workers : int, default=1
        Keras' worker threads (or processes) that make batches ahead of the model.
    use_multiprocessing : bool, default=False
        Workers are processes rather than threads (the augmentation holds the GIL for
        part of its time).
    max_queue_size : int, default=10
        Batches made ahead.
    pad_to : int, default=1
        Pad each batch to a multiple of this many faces (the devices of a data-parallel
        JAX run, which needs equal parts) by repeating its first faces with sample weight
        0; labelled batches then always carry weights.
    shard : (int, int), default=(0, 1)
        ``(index, count)``: serve part ``index`` of ``count`` equal parts of each (padded)
        batch, for the processes of a multi-process run that feed one global batch.

    Attributes
    ----------
    epoch : int
        The epoch whose batches are served; :meth:`on_epoch_end` moves it on, and
        :func:`emonet.training.train` sets it (a resumed run continues the stream).

    Raises
    ------
    ValueError
        If the set is empty, has unlabelled faces when ``labels=True``, features or
        targets of the wrong size.

    Examples
    --------
    >>> from emonet.features import load_features
    >>> from emonet.training import FaceBatches
    >>> train = load_features("fer2013.h5", usage="Training")  # doctest: +SKIP
    >>> batches = FaceBatches(train, use_features=True, shuffle=True, workers=4)  # doctest: +SKIP
    >>> model.fit(batches, epochs=10)  # doctest: +SKIP
    """

    def __init__(
        self,
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
        workers: int = 1,
        use_multiprocessing: bool = False,
        max_queue_size: int = 10,
        pad_to: int = 1,
        shard: tuple[int, int] = (0, 1),
    ):
        super().__init__(
            workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size
        )
        _check_set(data, use_features, labels, "dataset")
        if not labels and (class_weights is not None or targets is not None or mixup):
            raise ValueError("class_weights, targets and mixup need labels")
        if mixup < 0:
            raise ValueError(f"mixup must be >= 0 (0 for none), got {mixup}")
        if targets is not None:
            targets = np.asarray(targets, dtype=np.float32)
            if targets.shape != (len(data), NUM_CLASSES):
                raise ValueError(
                    f"targets must have one row of {NUM_CLASSES} probabilities per face, "
                    f"shape ({len(data)}, {NUM_CLASSES}); got {targets.shape}"
                )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.images = np.ascontiguousarray(data.images, dtype=np.uint8)
        self.features = (
            np.ascontiguousarray(data.features, dtype=np.float32) if use_features else None
        )
        self.labels = data.labels.astype(np.int64) if labels else None
        self.targets = targets
        self.mixup = float(mixup)
        self.class_weights = (
            None if class_weights is None else np.asarray(class_weights, dtype=np.float32)
        )
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.augment = augment if augment is not None and augment.enabled else None
        self.seed = int(np.random.SeedSequence().entropy % 2**63) if seed is None else int(seed)
        self.drop_remainder = drop_remainder
        if pad_to < 1 or not 0 <= shard[0] < shard[1] or pad_to % shard[1]:
            raise ValueError(
                f"pad_to ({pad_to}) must be a positive multiple of the shard count, and the "
                f"shard index within it (got shard={shard})"
            )
        self.pad_to = int(pad_to)
        self.shard = (int(shard[0]), int(shard[1]))
        self.epoch = 0
        self._order: tuple[int, np.ndarray] | None = None

    @property
    def soft_targets(self) -> bool:
        """Whether batches carry ``targets`` probabilities (given ones, or mixup)."""
        return self.labels is not None and (self.targets is not None or self.mixup > 0)

    def __len__(self) -> int:
        n = len(self.images)
        if self.drop_remainder and n >= self.batch_size:
            return n // self.batch_size
        return math.ceil(n / self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """The faces' order in an epoch: a permutation of ``seed, epoch`` when shuffling."""
        cached = self._order
        if cached is not None and cached[0] == epoch:
            return cached[1]
        n = len(self.images)
        if self.shuffle:
            order = np.random.default_rng([self.seed, 0, epoch]).permutation(n)
        else:
            order = np.arange(n)
        self._order = (epoch, order)  # one tuple: worker threads see both or neither
        return order

    def indices(self, index: int, epoch: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The faces of batch ``index`` of an epoch (default: the current one), and which
        of them are real (not padding)."""
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        order = self.order(self.epoch if epoch is None else epoch)
        idx = order[index * self.batch_size : (index + 1) * self.batch_size]
        real = np.ones(len(idx), dtype=bool)
        missing = -len(idx) % self.pad_to
        if missing:
            idx = np.concatenate([idx, np.resize(idx, missing)])
            real = np.concatenate([real, np.zeros(missing, dtype=bool)])
        part, parts = self.shard
        if parts > 1:
            size = len(idx) // parts
            idx, real = idx[part * size : (part + 1) * size], real[part * size : (part + 1) * size]
        return idx, real

    def batch(self, index: int, epoch: int | None = None) -> dict[str, np.ndarray]:
        """The raw arrays of a batch: ``images`` (B, 48, 48) uint8 (float32 after mixup)
        and, as configured, ``features``, ``labels`` (B,) int64, ``targets`` (B, 7) float32
        (with :attr:`soft_targets`) and ``weights`` (B,) float32."""
        epoch = self.epoch if epoch is None else epoch
        idx, real = self.indices(index, epoch)
        images = self.images[idx]
        features = None if self.features is None else self.features[idx]
        # the random draws of a batch: a function of (seed, what, epoch, batch[, shard])
        stream = [epoch, index] + ([self.shard[0]] if self.shard[1] > 1 else [])
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, 1, *stream])
            images, moved = augment_batch(images, features, self.augment, rng)
            if moved is not None:
                features = moved.astype(np.float32, copy=False)
        labels = None if self.labels is None else self.labels[idx]
        targets = None
        if self.soft_targets:
            eye = np.eye(NUM_CLASSES, dtype=np.float32)
            targets = eye[labels] if self.targets is None else self.targets[idx]
            if self.mixup:
                rng = np.random.default_rng([self.seed, 2, *stream])
                images, features, targets = mixup_batch(images, features, targets, self.mixup, rng)
        out = {"images": images}
        if features is not None:
            out["features"] = features
        if labels is not None:
            out["labels"] = labels
            if targets is not None:
                out["targets"] = targets
            if self.class_weights is not None:
                out["weights"] = self.class_weights[out["labels"]] * real
            elif self.pad_to > 1:
                out["weights"] = real.astype(np.float32)
        return out

    def __getitem__(self, index: int):
        return self.to_model(self.batch(index))

    def to_model(self, arrays: dict[str, np.ndarray]):
        """``inputs`` or ``(inputs, targets[, weights])`` from :meth:`batch`'s arrays."""
        inputs = {FACE_INPUT: arrays["images"].astype(np.float32)[..., None]}
        if "features" in arrays:
            inputs[FEATURES_INPUT] = arrays["features"]
        if "labels" not in arrays:
            return inputs
        targets = arrays.get("targets")
        if targets is None:
            targets = np.eye(NUM_CLASSES, dtype=np.float32)[arrays["labels"]]
        if "weights" not in arrays:
            return inputs, targets
        return inputs, targets, arrays["weights"]

    def on_epoch_end(self) -> None:
        """Move on to the next epoch's order and augmentation."""
        self.epoch += 1
