"""The names that the options of :mod:`emonet.models` and :mod:`emonet.training` accept,
without TensorFlow.

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

#: Named training recipes (``emonet.training.RECIPES``).
RECIPE_NAMES: tuple[str, ...] = ("paper", "cpu")

#: Augmentation modes of ``AugmentConfig``.
AUGMENT_MODES: tuple[str, ...] = ("full", "image", "none")

#: Optimisers, learning-rate schedules, monitored quantities and mixed precisions of
#: ``TrainingConfig``.
OPTIMIZERS: tuple[str, ...] = ("sgd", "adam", "adamw")
LR_SCHEDULES: tuple[str, ...] = ("plateau", "cosine", "constant")
MONITORS: tuple[str, ...] = ("val_loss", "val_accuracy", "loss", "accuracy")
PRECISIONS: tuple[str | None, ...] = (None, "bfloat16", "float16")

#: Test-time augmentation of ``predict_crops`` and ``Recognizer``: the face alone, with
#: its mirror image, or mirrored at three zooms (``emonet.models.TTA_SCALES``).
TTA_MODES: tuple[str, ...] = ("none", "flip", "multiscale")

#: Post-training quantizations of ``emonet.models.quantize_model``: weights and
#: activations in int8, or the weights only.
QUANTIZATIONS: tuple[str, ...] = ("int8", "weights")


def tta_mode(tta: bool | str | None) -> str:
    """The name of a test-time augmentation: one of :data:`TTA_MODES`.

    Parameters
    ----------
    tta : bool, str or None
        ``False`` or ``None`` (``"none"``), ``True`` (``"flip"``), or a name of
        :data:`TTA_MODES`.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        If ``tta`` is another value.

    Examples
    --------
    >>> from emonet.models import tta_mode
    >>> tta_mode(True), tta_mode(False), tta_mode("multiscale")
    ('flip', 'none', 'multiscale')
    """
    if tta is None or tta is False:
        return "none"
    if tta is True:
        return "flip"
    if isinstance(tta, str) and tta in TTA_MODES:
        return tta
    raise ValueError(f"tta: expected True, False or one of {', '.join(TTA_MODES)}, got {tta!r}")


#: Input pipelines of ``make_dataset`` and ``train``.
PIPELINES: tuple[str, ...] = ("auto", "py", "tf")

#: Distribution strategies of ``make_strategy``.
STRATEGIES: tuple[str, ...] = ("auto", "default", "mirrored", "multiworker")
