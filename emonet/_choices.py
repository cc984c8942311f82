"""The names that the options of :mod:`emonet.models` accept, without TensorFlow.

``emonet-train`` and ``emonet-evaluate`` check their arguments against these before they
import TensorFlow (seconds of start-up), and the library checks its configurations
against the same tuples. A module inside ``emonet.models`` would not do: importing it
runs ``emonet/models/__init__.py``, which imports Keras. Imports nothing of emonet.
"""

from __future__ import annotations

#: Named networks (``emonet.models.VARIANTS`` holds their configurations).
VARIANT_NAMES: tuple[str, ...] = (
    "inception_resnet_v2",
    "inception_resnet_v2_features",
    "resnet50",
    "resnet50_features",
    "compact",
    "compact_features",
    "features",
)

#: Named training recipes (``emonet.models.RECIPES``).
RECIPE_NAMES: tuple[str, ...] = ("paper", "cpu")

#: Augmentation modes of ``AugmentConfig``.
AUGMENT_MODES: tuple[str, ...] = ("full", "image", "none")

#: Optimisers, learning-rate schedules, monitored quantities and mixed precisions of
#: ``TrainingConfig``.
OPTIMIZERS: tuple[str, ...] = ("sgd", "adam", "adamw")
LR_SCHEDULES: tuple[str, ...] = ("plateau", "cosine", "constant")
MONITORS: tuple[str, ...] = ("val_loss", "val_accuracy", "loss", "accuracy")
PRECISIONS: tuple[str | None, ...] = (None, "bfloat16", "float16")

#: Input pipelines of ``make_dataset`` and ``train``.
PIPELINES: tuple[str, ...] = ("auto", "py", "tf")

#: Distribution strategies of ``make_strategy``.
STRATEGIES: tuple[str, ...] = ("auto", "default", "mirrored", "multiworker")
