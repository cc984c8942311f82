"""Knowledge distillation: one student network trained on a teacher's probabilities.

The teacher is usually an ensemble (several networks, flip averaging): accurate, but
several times the work per face. The student learns the teacher's probabilities on the
training faces, softened by a temperature so that the classes the teacher finds
plausible keep some weight (Hinton et al. 2015), mixed with the one-hot labels. It then
answers at the speed of one small network. The teacher's probabilities are computed by
the caller (``emonet-distill`` uses a :class:`emonet.Recognizer`), so this stage needs
nothing above :mod:`emonet.models`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from emonet._constants import NUM_CLASSES
from emonet.features import FeatureSet
from emonet.models._fusion import ModelConfig
from emonet.models._recipes import TrainingConfig
from emonet.models._train import TrainingResult, train

__all__ = ["distill", "distillation_targets"]


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
    >>> from emonet.models import distillation_targets
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
        The labelled training faces (Training).
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
        Passed to :func:`train` (``out_dir``, ``resume``, ``verbose``, ...).

    Returns
    -------
    TrainingResult

    Examples
    --------
    >>> from emonet import Recognizer
    >>> from emonet.features import load_features
    >>> from emonet.models import distill, variant_config
    >>> data = load_features("fer2013.h5")  # doctest: +SKIP
    >>> train_set = data.select("Training")  # doctest: +SKIP
    >>> teacher = Recognizer().predict_crops(train_set.images)  # doctest: +SKIP
    >>> result = distill(train_set, teacher, data.select("PublicTest"),
    ...                  variant_config("compact"), out_dir="runs/student")  # doctest: +SKIP
    """
    config = config or TrainingConfig.cpu(label_smoothing=0.0)
    targets = distillation_targets(teacher, train_data.labels, temperature, alpha)
    return train(
        train_data, validation_data, model_config, config, targets=targets, **train_options
    )
