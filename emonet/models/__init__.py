"""Models: the two-branch EmoNet network, its backbones, training and evaluation.

A CNN backbone reads the face; with features, a dense branch reads the 2,728 landmark and
HOG values; both are concatenated into a dense head and a softmax over the 7 labels.
Backbones come from one registry (:func:`list_backbones`): the paper's
``inception_resnet_v2`` and ``resnet50``, and ``compact``, a network that trains on a
small CPU. :func:`train` runs the paper's two-phase schedule (or the CPU recipe) from a
features file; :func:`predict_proba` (a feature set) or :func:`predict_faces` (face crops),
with test-time augmentation (:func:`tta_views`), and :func:`evaluate_predictions` score a
trained model; :func:`distill` trains one small network on an ensemble's probabilities;
:func:`quantize_model` makes a trained one's int8 copy (:class:`LiteModel`), twice as
fast on a CPU.
"""

from emonet._plotting import plot_confusion_matrix
from emonet.models._augment import (
    AUGMENT_MODES,
    FLIP_PERMUTATION,
    AugmentConfig,
    augment_batch,
    mirror_batch,
    mixup_batch,
    random_affine,
    random_erase,
    scale_batch,
    transform_landmarks,
    warp_faces,
)
from emonet.models._backbones import (
    BackboneSpec,
    WeightsError,
    build_backbone,
    get_backbone,
    list_backbones,
    load_backbone_weights,
    register_backbone,
)
from emonet.models._data import PIPELINES, FaceBatches, balanced_class_weights, make_dataset
from emonet.models._diagram import plot_architecture
from emonet.models._distill import augmented_views, distill, distillation_targets
from emonet.models._distribute import STRATEGIES, DeviceStrategy, make_strategy
from emonet.models._evaluate import (
    Evaluation,
    evaluate_predictions,
    predict_faces,
    predict_proba,
)
from emonet.models._fusion import (
    PAPER_VARIANTS,
    VARIANTS,
    ModelConfig,
    build_model,
    variant_config,
)
from emonet.models._history import plot_history
from emonet.models._layers import BackbonePreprocessing, FusedBatchNormalization, GrayToRGB
from emonet.models._lite import (
    QUANTIZATIONS,
    LiteModel,
    load_lite_model,
    quantize_model,
)
from emonet.models._recipes import RECIPES, TrainingConfig
from emonet.models._saving import (
    ModelInfo,
    check_feature_settings,
    feature_settings,
    load_model,
    read_model_info,
    save_model,
)
from emonet.models._train import TrainingResult, train
from emonet.models._transfer import transfer_weights
from emonet.models._tta import TTA_MODES, TTA_SCALES, tta_mode, tta_views

__all__ = [
    "AUGMENT_MODES",
    "FLIP_PERMUTATION",
    "PAPER_VARIANTS",
    "PIPELINES",
    "QUANTIZATIONS",
    "RECIPES",
    "STRATEGIES",
    "TTA_MODES",
    "TTA_SCALES",
    "VARIANTS",
    "AugmentConfig",
    "BackbonePreprocessing",
    "BackboneSpec",
    "DeviceStrategy",
    "Evaluation",
    "FaceBatches",
    "FusedBatchNormalization",
    "GrayToRGB",
    "LiteModel",
    "ModelConfig",
    "ModelInfo",
    "TrainingConfig",
    "TrainingResult",
    "WeightsError",
    "augment_batch",
    "augmented_views",
    "balanced_class_weights",
    "build_backbone",
    "build_model",
    "check_feature_settings",
    "distill",
    "distillation_targets",
    "evaluate_predictions",
    "feature_settings",
    "get_backbone",
    "list_backbones",
    "load_backbone_weights",
    "load_lite_model",
    "load_model",
    "make_dataset",
    "make_strategy",
    "mirror_batch",
    "mixup_batch",
    "plot_architecture",
    "plot_confusion_matrix",
    "plot_history",
    "predict_faces",
    "predict_proba",
    "quantize_model",
    "random_affine",
    "random_erase",
    "read_model_info",
    "register_backbone",
    "save_model",
    "scale_batch",
    "train",
    "transfer_weights",
    "transform_landmarks",
    "tta_mode",
    "tta_views",
    "variant_config",
    "warp_faces",
]
