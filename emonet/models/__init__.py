"""Models: what the two-branch EmoNet network is, and how it runs.

A CNN backbone reads the face; with features, a dense branch reads the 2,728 landmark and
HOG values; both are concatenated into a dense head and a softmax over the 7 labels.
Backbones come from one registry (:func:`list_backbones`): the paper's
``inception_resnet_v2`` and ``resnet50``, and ``compact``, a network that trains on a
small CPU. :func:`build_model` builds a network (:class:`ModelConfig`,
:func:`variant_config`), :func:`save_model` and :func:`load_model` keep it with emonet's
record (:class:`ModelInfo`), :func:`transfer_weights` carries a trained one's weights
into the same network or a wider one. :func:`predict_proba` (a feature set) and
:func:`predict_crops` (48x48 face crops) run it, with test-time augmentation
(:func:`tta_views`); :func:`quantize_model` makes its int8 copy (:class:`LiteModel`),
twice as fast on a CPU.

How a network learns is :mod:`emonet.training`; the face geometry (mirroring, zooming,
warping faces with their landmarks) lives in :mod:`emonet.features`, and scoring
predictions (:func:`~emonet.predictions.evaluate_predictions`) in
:mod:`emonet.predictions`. A name that moved there is no longer here:
``emonet.models.NAME`` says where it went.
"""

from emonet._plotting import plot_confusion_matrix
from emonet.models._backbones import (
    BackboneSpec,
    WeightsError,
    build_backbone,
    get_backbone,
    list_backbones,
    load_backbone_weights,
    register_backbone,
)
from emonet.models._diagram import plot_architecture
from emonet.models._fusion import (
    BACKBONE_LAYER,
    FACE_INPUT,
    FEATURES_INPUT,
    PAPER_VARIANTS,
    VARIANTS,
    ModelConfig,
    build_model,
    variant_config,
)
from emonet.models._layers import BackbonePreprocessing, FusedBatchNormalization, GrayToRGB
from emonet.models._lite import (
    QUANTIZATIONS,
    LiteModel,
    load_lite_model,
    quantize_model,
)
from emonet.models._predict import predict_crops, predict_faces, predict_proba
from emonet.models._saving import (
    ModelInfo,
    check_feature_settings,
    feature_settings,
    load_model,
    read_model_info,
    save_model,
)
from emonet.models._transfer import transfer_weights
from emonet.models._tta import TTA_MODES, TTA_SCALES, tta_mode, tta_views

__all__ = [
    "BACKBONE_LAYER",
    "FACE_INPUT",
    "FEATURES_INPUT",
    "PAPER_VARIANTS",
    "QUANTIZATIONS",
    "TTA_MODES",
    "TTA_SCALES",
    "VARIANTS",
    "BackbonePreprocessing",
    "BackboneSpec",
    "FusedBatchNormalization",
    "GrayToRGB",
    "LiteModel",
    "ModelConfig",
    "ModelInfo",
    "WeightsError",
    "build_backbone",
    "build_model",
    "check_feature_settings",
    "feature_settings",
    "get_backbone",
    "list_backbones",
    "load_backbone_weights",
    "load_lite_model",
    "load_model",
    "plot_architecture",
    "plot_confusion_matrix",
    "predict_crops",
    "predict_faces",
    "predict_proba",
    "quantize_model",
    "read_model_info",
    "register_backbone",
    "save_model",
    "transfer_weights",
    "tta_mode",
    "tta_views",
    "variant_config",
]

# Names that left this package (docs/models.md, "Where things moved"): the package that
# holds each now. Only their homes' names, as text: importing emonet.training from here
# would be an import upward.
_MOVED = {
    **dict.fromkeys(
        (
            "AUGMENT_MODES",
            "PIPELINES",
            "RECIPES",
            "STRATEGIES",
            "AugmentConfig",
            "DeviceStrategy",
            "FaceBatches",
            "TrainingConfig",
            "TrainingResult",
            "augment_batch",
            "augmented_views",
            "balanced_class_weights",
            "distill",
            "distillation_targets",
            "make_dataset",
            "make_strategy",
            "mixup_batch",
            "plot_history",
            "random_affine",
            "random_erase",
            "train",
        ),
        "emonet.training",
    ),
    **dict.fromkeys(
        ("FLIP_PERMUTATION", "mirror_batch", "scale_batch", "transform_landmarks", "warp_faces"),
        "emonet.features",
    ),
    **dict.fromkeys(("Evaluation", "evaluate_predictions"), "emonet.predictions"),
}


def __getattr__(name: str):
    if name in _MOVED:
        raise AttributeError(
            f"emonet.models.{name} moved to {_MOVED[name]}.{name} "
            f"(from {_MOVED[name]} import {name})"
        )
    raise AttributeError(f"module 'emonet.models' has no attribute {name!r}")
