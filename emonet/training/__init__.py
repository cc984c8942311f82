"""Training: how an EmoNet network learns.

:func:`train` runs the paper's two-phase schedule (or the CPU recipe, :data:`RECIPES`,
:class:`TrainingConfig`) from a features file's faces, in a run folder that resumes
after an interruption and keeps its history (:func:`plot_history`). The input pipeline
(:func:`make_dataset`, :class:`FaceBatches`) serves batches on any Keras backend,
augmented by random warps that move the landmarks and the HOG with the face
(:class:`AugmentConfig`, :func:`augment_batch`, :func:`mixup_batch`), over one device or
many (:func:`make_strategy`). :func:`distill` trains one small network on a teacher's
probabilities, kept in a ``teacher.npz`` (:class:`TeacherProbabilities`), of the faces
or of augmented copies of them (:func:`teaching_views`).

What a network is and how it runs (building, saving, predicting) is
:mod:`emonet.models`; the face geometry that training and test-time augmentation share
lives in :mod:`emonet.features`.
"""

from emonet.training._augment import (
    AUGMENT_MODES,
    AugmentConfig,
    augment_batch,
    mixup_batch,
    random_affine,
    random_erase,
)
from emonet.training._data import FaceBatches, balanced_class_weights
from emonet.training._distill import augmented_views, distill, distillation_targets
from emonet.training._distribute import STRATEGIES, DeviceStrategy, make_strategy
from emonet.training._history import plot_history
from emonet.training._pipeline import PIPELINES, make_dataset
from emonet.training._recipes import RECIPES, TrainingConfig
from emonet.training._teaching import (
    TEACHER_FILE,
    TeacherProbabilities,
    describe_teacher,
    teaching_views,
)
from emonet.training._train import TrainingResult, train

__all__ = [
    "AUGMENT_MODES",
    "PIPELINES",
    "RECIPES",
    "STRATEGIES",
    "TEACHER_FILE",
    "AugmentConfig",
    "DeviceStrategy",
    "FaceBatches",
    "TeacherProbabilities",
    "TrainingConfig",
    "TrainingResult",
    "augment_batch",
    "augmented_views",
    "balanced_class_weights",
    "describe_teacher",
    "distill",
    "distillation_targets",
    "make_dataset",
    "make_strategy",
    "mixup_batch",
    "plot_history",
    "random_affine",
    "random_erase",
    "teaching_views",
    "train",
]
