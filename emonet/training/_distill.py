"""Knowledge distillation: one student network trained on a teacher's probabilities.

The teacher is usually an ensemble (several networks, flip averaging): accurate, but
several times the work per face. The student learns the teacher's probabilities on the
training faces, softened by a temperature so that the classes the teacher finds
plausible keep some weight (Hinton et al. 2015), mixed with the one-hot labels. It then
answers at the speed of one small network. The teacher's probabilities are computed by
the caller (``emonet-distill`` uses a :class:`emonet.Recognizer`), so this stage needs
nothing above :mod:`emonet.training`.

A teacher that labels only the original faces fits them almost perfectly, so its
probabilities say little the labels do not, and the student, augmented, sees faces the
teacher never judged. :func:`augmented_views` draws several augmented copies of every
face for the teacher to label, so that the student learns the teacher's answer on the
very face it is shown ("consistent teaching", Beyer et al. 2022, "Knowledge
distillation: a good teacher is patient and consistent").
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from emonet._constants import NUM_CLASSES
from emonet.features import FeatureSet
from emonet.models import ModelConfig
from emonet.training._augment import AugmentConfig, augment_batch
from emonet.training._recipes import TrainingConfig
from emonet.training._train import TrainingResult, train

__all__ = ["augmented_views", "distill", "distillation_targets"]


def distillation_targets(
    teacher: np.ndarray,
    labels: np.ndarray,
    temperature: float = 2.0,
    alpha: float = 0.5,
) -> np.ndarray:
    """The student's targets: the teacher's softened probabilities and the labels, mixed.

    ``(1 - alpha) * softmax(log(teacher) / temperature) + alpha * one_hot(labels)``.

    Parameters
    ----------
    teacher : (N, 7) array
        The teacher's probabilities (rows sum to 1).
    labels : (N,) int array
        The true labels.
    temperature : float, default=2.0
        Above 1 flattens the teacher's distribution (``p ** (1 / T)``, renormalised); 1
        keeps it.
    alpha : float, default=0.5
        Weight of the one-hot labels, in [0, 1]; 0 learns from the teacher alone.

    Returns
    -------
    (N, 7) float32
        Rows sum to 1.

    Raises
    ------
    ValueError
        If the shapes disagree, a probability is negative, or ``temperature`` or
        ``alpha`` is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.training import distillation_targets
    >>> teacher = np.array([[0.8, 0.2, 0, 0, 0, 0, 0]])
    >>> distillation_targets(teacher, np.array([0]), temperature=1.0, alpha=0.5)[0, :2]
    array([0.9, 0.1], dtype=float32)
    """
    teacher = np.asarray(teacher, dtype=np.float64)
    labels = np.asarray(labels)
    if teacher.ndim != 2 or teacher.shape[1] != NUM_CLASSES or len(teacher) != len(labels):
        raise ValueError(
            f"teacher must hold {NUM_CLASSES} probabilities for each of the {len(labels)} "
            f"faces; got shape {teacher.shape}"
        )
    if (teacher < 0).any():
        raise ValueError("teacher probabilities must not be negative")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    # p ** (1 / T) is softmax(logits / T) up to normalisation; the floor keeps log(0) away
    soft = np.maximum(teacher, 1e-12) ** (1.0 / temperature)
    soft /= soft.sum(axis=1, keepdims=True)
    hard = np.eye(NUM_CLASSES)[labels]
    return ((1.0 - alpha) * soft + alpha * hard).astype(np.float32)


def augmented_views(
    data: FeatureSet,
    augment: AugmentConfig,
    views: int,
    seed: int = 0,
    batch_size: int = 4096,
    with_features: bool = True,
) -> FeatureSet:
    """``views`` randomly augmented copies of every face, for a teacher to label.

    Each copy is warped (and, as ``augment`` says, erased, mirrored) with its features
    moved, as :func:`~emonet.training.augment_batch` does in training. The rows are view
    by view: view ``k`` of face ``i`` is row ``k * len(data) + i``; labels, usages and
    ids repeat.

    Parameters
    ----------
    data : FeatureSet
        The faces, e.g. Training.
    augment : AugmentConfig
        The augmentation of each view; leave ``flip`` off when the teacher averages each
        face with its mirror (its answer is then the same for both, so the student may
        still mirror the views at random in training).
    views : int
        Copies of each face, >= 1.
    seed : int, default=0
        The views are a function of ``seed`` (and ``batch_size``).
    batch_size : int, default=4096
        Faces augmented at a time.
    with_features : bool, default=True
        Move each copy's landmarks (and, in ``"full"`` mode, compute its HOG again).
        ``False`` leaves the copies without features, ``(views * len(data), 0)``, for a
        teacher and a student that read only the pixels: 16 copies of Training then take
        1 GB instead of 6. The faces are the same either way.

    Returns
    -------
    FeatureSet
        ``views * len(data)`` faces.

    Raises
    ------
    ValueError
        If ``views`` < 1 or ``augment`` changes nothing.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.features import FeatureSet
    >>> from emonet.training import AugmentConfig, augmented_views
    >>> faces = FeatureSet(np.zeros((2, 48, 48), np.uint8), np.zeros((2, 2728), np.float32),
    ...                    np.array([3, 6]), np.array(["Training"] * 2), np.array(["a", "b"]))
    >>> copies = augmented_views(faces, AugmentConfig(flip=False), views=3)
    >>> len(copies), copies.labels.tolist()
    (6, [3, 6, 3, 6, 3, 6])
    >>> augmented_views(faces, AugmentConfig(flip=False), 3, with_features=False).features.shape
    (6, 0)
    """
    if views < 1:
        raise ValueError(f"views must be >= 1, got {views}")
    if not augment.enabled:
        raise ValueError("augmented views need an augmentation; its mode is 'none'")
    n = len(data)
    images = np.empty((views * n, *data.images.shape[1:]), dtype=np.uint8)
    width = data.features.shape[1] if with_features else 0
    features = np.empty((views * n, width), dtype=np.float32)
    for view in range(views):
        for start in range(0, n, batch_size):
            rows = slice(start, min(start + batch_size, n))
            into = slice(view * n + rows.start, view * n + rows.stop)
            rng = np.random.default_rng([seed, view, start])
            # the features draw nothing from rng: the faces do not depend on with_features
            images[into], moved = augment_batch(
                data.images[rows], data.features[rows] if with_features else None, augment, rng
            )
            if with_features:
                features[into] = moved
    return replace(
        data,
        images=images,
        features=features,
        labels=np.tile(data.labels, views),
        usage=np.tile(data.usage, views),
        ids=np.tile(data.ids, views),
        attrs=dict(data.attrs),
    )


def distill(
    train_data: FeatureSet,
    teacher: np.ndarray,
    validation_data: FeatureSet | None,
    model_config: ModelConfig,
    config: TrainingConfig | None = None,
    *,
    temperature: float = 2.0,
    alpha: float = 0.5,
    **train_options: Any,
) -> TrainingResult:
    """Train a student network on a teacher's probabilities of the training faces.

    Parameters
    ----------
    train_data : FeatureSet
        The labelled training faces (Training), or :func:`augmented_views` of them.
    teacher : (len(train_data), 7) array
        The teacher's probabilities of those faces, in their order; e.g. an ensemble's,
        from :meth:`emonet.Recognizer.predict_crops`.
    validation_data : FeatureSet or None
        Labelled faces that pick the best epoch (PublicTest), scored on their labels.
    model_config : ModelConfig
        The student, e.g. ``variant_config("compact", backbone_options={"widths": [24,
        48, 96, 192]})``.
    config : TrainingConfig, optional
        The recipe; default :meth:`TrainingConfig.cpu` without label smoothing (the
        targets are soft already).
    temperature, alpha
        As :func:`distillation_targets`.
    **train_options
        Passed to :func:`train` (``out_dir``, ``resume``, ``initial_model``,
        ``verbose``, ...). With ``initial_model`` the student starts from a trained
        network of its own architecture, or a narrower one of it, instead of random
        weights.

    Returns
    -------
    TrainingResult

    Examples
    --------
    >>> from emonet import Recognizer
    >>> from emonet.features import load_features
    >>> from emonet.models import variant_config
    >>> from emonet.training import distill
    >>> data = load_features("fer2013.h5")  # doctest: +SKIP
    >>> train_set = data.select("Training")  # doctest: +SKIP
    >>> teacher = Recognizer().predict_crops(train_set.images)  # doctest: +SKIP
    >>> result = distill(train_set, teacher, data.select("PublicTest"),
    ...                  variant_config("compact"), out_dir="runs/student")  # doctest: +SKIP

    Consistent teaching: the teacher labels eight augmented copies of each face, and the
    student only mirrors them (the teacher averages each face with its mirror).

    >>> from emonet.training import AugmentConfig, TrainingConfig, augmented_views
    >>> views = augmented_views(train_set, AugmentConfig(flip=False), 8)  # doctest: +SKIP
    >>> teacher = Recognizer().predict_crops(views.images)  # doctest: +SKIP
    >>> flips_only = AugmentConfig(rotation=0, shear=0, zoom=0)
    >>> result = distill(views, teacher, data.select("PublicTest"), variant_config("compact"),
    ...                  TrainingConfig.cpu(augment=flips_only))  # doctest: +SKIP
    """
    config = config or TrainingConfig.cpu(label_smoothing=0.0)
    targets = distillation_targets(teacher, train_data.labels, temperature, alpha)
    return train(
        train_data, validation_data, model_config, config, targets=targets, **train_options
    )
