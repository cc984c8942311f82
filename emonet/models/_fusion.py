"""The EmoNet network: a CNN backbone on the face, fused with a dense branch on the features.

::

    face (48, 48, 1) --> Resizing --> GrayToRGB --> BackbonePreprocessing --> backbone --+
                                                                                         |
    features (2728,) --> Normalization --> Dense ... Dense (feature branch) ---------> concat
                                                                                         |
                                                  Dense ... Dense (head) --> Dense softmax (7)
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import keras
import numpy as np

from emonet._config import config_from_dict
from emonet._constants import FACE_SIZE, FEATURE_SIZE, NUM_CLASSES
from emonet.models._backbones import build_backbone, get_backbone
from emonet.models._layers import BackbonePreprocessing, GrayToRGB

__all__ = [
    "PAPER_VARIANTS",
    "VARIANTS",
    "ModelConfig",
    "build_model",
    "variant_config",
]

#: Name of every network's face input, ``(48, 48, 1)``, as the training pipelines and
#: :func:`predict_crops` feed it.
FACE_INPUT: str = "face"
#: Name of the features input (the 2,728 landmark and HOG values) of a network that
#: reads them.
FEATURES_INPUT: str = "features"
#: Name of the backbone inside a network: the layer that training freezes in phase 1.
BACKBONE_LAYER: str = "backbone"
# Floor of the adapted feature variances: HOG values vary by about 1e-3, landmarks by ~10.
_MIN_FEATURE_VARIANCE = 1e-4


@dataclass
class ModelConfig:
    """Everything :func:`build_model` needs, serialisable to JSON.

    Parameters
    ----------
    backbone : str or None
        A name from :func:`emonet.models.list_backbones`; ``None`` for a model of the
        features alone (it still takes the face input, unused, so every pipeline feeds
        every model alike), which needs ``use_features=True``.
    use_features : bool
        Whether the model also takes the 2,728-value feature vector.
    num_classes : int
        Outputs of the softmax.
    input_size : int, optional
        Side the face is resized to for the backbone; default the backbone's own.
    feature_units : sequence of int
        Dense layers of the feature branch.
    head_units : sequence of int
        Dense layers between the concatenation and the softmax.
    dropout : float
        Dropout before each dense layer of the head.
    feature_dropout : float
        Dropout before each dense layer of the feature branch.
    backbone_options : dict
        Architecture options of the backbone (the ``compact`` one has some).
    name : str, optional
        Name of the Keras model; default ``backbone`` plus ``_features`` when it uses them.

    Examples
    --------
    >>> from emonet.models import ModelConfig
    >>> config = ModelConfig("resnet50", use_features=True)
    >>> ModelConfig.from_config(config.get_config()) == config
    True
    >>> config.model_name
    'resnet50_features'
    """

    backbone: str | None = "compact"
    use_features: bool = False
    num_classes: int = NUM_CLASSES
    input_size: int | None = None
    feature_units: tuple[int, ...] = (256,)
    head_units: tuple[int, ...] = (256,)
    dropout: float = 0.5
    feature_dropout: float = 0.2
    backbone_options: dict[str, Any] = field(default_factory=dict)
    name: str | None = None

    def __post_init__(self) -> None:
        self.feature_units = tuple(int(u) for u in self.feature_units)
        self.head_units = tuple(int(u) for u in self.head_units)
        self.backbone_options = {
            k: (tuple(v) if isinstance(v, list) else v) for k, v in self.backbone_options.items()
        }
        if self.backbone is None:
            if not self.use_features:
                raise ValueError(
                    "a model without a backbone reads the features alone: pass "
                    "use_features=True, or name a backbone"
                )
            if self.backbone_options or self.input_size is not None:
                raise ValueError("a model without a backbone takes no backbone options or size")
        options = get_backbone(self.backbone).options if self.backbone is not None else {}
        unknown = sorted(set(self.backbone_options) - set(options))
        if unknown:
            raise ValueError(
                f"backbone {self.backbone!r} has no option {unknown[0]!r} "
                f"(options: {', '.join(options) or 'none'})"
            )
        if not 0 <= self.dropout < 1 or not 0 <= self.feature_dropout < 1:
            raise ValueError("dropout rates must lie in [0, 1)")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {self.num_classes}")

    @property
    def model_name(self) -> str:
        """The Keras model's name."""
        if self.name:
            return self.name
        if self.backbone is None:
            return "features"
        return self.backbone + ("_features" if self.use_features else "")

    @property
    def resolved_input_size(self) -> int:
        """The backbone's input side, with the default filled in (the face's side when
        there is no backbone)."""
        if self.backbone is None:
            return FACE_SIZE
        return self.input_size or get_backbone(self.backbone).default_input_size

    def get_config(self) -> dict[str, Any]:
        """The configuration as a JSON-compatible dict.

        Returns
        -------
        dict
        """
        config = asdict(self)
        config["feature_units"] = list(self.feature_units)
        config["head_units"] = list(self.head_units)
        config["backbone_options"] = {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in self.backbone_options.items()
        }
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ModelConfig:
        """Rebuild a configuration from :meth:`get_config`'s dict.

        Parameters
        ----------
        config : dict

        Returns
        -------
        ModelConfig

        Raises
        ------
        ValueError
            If the dict has keys that are not fields.
        """
        return config_from_dict(cls, config, "model configuration")

    def to_json(self) -> str:
        """The configuration as a JSON string."""
        return json.dumps(self.get_config(), indent=2)


#: The named variants: the four of the paper, the CPU network with and without features,
#: and a network of the features alone (an ensemble member that trains in minutes).
VARIANTS: dict[str, ModelConfig] = {
    "inception_resnet_v2": ModelConfig("inception_resnet_v2", use_features=False),
    "inception_resnet_v2_features": ModelConfig("inception_resnet_v2", use_features=True),
    "resnet50": ModelConfig("resnet50", use_features=False),
    "resnet50_features": ModelConfig("resnet50", use_features=True),
    # lighter dropout: from scratch, on a short CPU budget, augmentation regularises enough
    "compact": ModelConfig("compact", use_features=False, dropout=0.25),
    "compact_features": ModelConfig("compact", use_features=True, dropout=0.25),
    "features": ModelConfig(
        None, use_features=True, feature_units=(256,), head_units=(), dropout=0.3
    ),
}

#: The four networks of the EmoNet paper (model A = IRv2, model B = ResNet-50).
PAPER_VARIANTS: tuple[str, ...] = (
    "inception_resnet_v2",
    "inception_resnet_v2_features",
    "resnet50",
    "resnet50_features",
)


def variant_config(name: str, **overrides: Any) -> ModelConfig:
    """The :class:`ModelConfig` of a named variant, with fields overridden.

    Parameters
    ----------
    name : str
        A key of :data:`VARIANTS`.
    **overrides
        Fields to change, e.g. ``input_size=75``.

    Returns
    -------
    ModelConfig

    Raises
    ------
    ValueError
        If the variant or a field is unknown.

    Examples
    --------
    >>> from emonet.models import variant_config
    >>> variant_config("resnet50_features", input_size=64).input_size
    64
    """
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; choose one of {', '.join(VARIANTS)}")
    config = VARIANTS[name].get_config()
    config.update(overrides)
    config["name"] = overrides.get("name", name)
    return ModelConfig.from_config(config)


def build_model(
    backbone: str | ModelConfig | None,
    use_features: bool | None = None,
    weights: str | os.PathLike[str] | None = None,
    num_classes: int = NUM_CLASSES,
    input_size: int | None = None,
    *,
    features: np.ndarray | None = None,
    **config: Any,
) -> keras.Model:
    """Build the EmoNet network around a backbone.

    The model takes a 48x48x1 face (uint8 or float, pixel values 0-255) under the input
    name ``"face"`` and, with ``use_features=True``, the 2,728-value feature vector under
    ``"features"``; it outputs the softmax probabilities of the classes. Everything it
    needs to run is inside it: resizing to the backbone's size, gray to three channels,
    the backbone's preprocessing, and the ``Normalization`` of the features.

    Parameters
    ----------
    backbone : str, None or ModelConfig
        A name from :func:`list_backbones` (``None``: the features alone, see
        :class:`ModelConfig`), or a complete configuration (then
        ``use_features``, ``num_classes``, ``input_size`` and ``**config`` must be left out).
    use_features : bool
        Whether to add the feature branch.
    weights : None, "imagenet" or path, optional
        Weights of the backbone: random, downloaded by Keras, or a ``.weights.h5`` file
        of the same architecture as ``save_weights`` writes it.
    num_classes : int, default=7
        Outputs of the softmax.
    input_size : int, optional
        Side the face is resized to for the backbone; default the backbone's own (139 for
        Inception-ResNet v2, 197 for ResNet-50, 48 for compact).
    features : (N, 2728) array, optional
        Training features the ``Normalization`` layer is adapted on (mean and variance).
        Without them it passes the features through unchanged until adapted.
    **config
        Further fields of :class:`ModelConfig` (``feature_units``, ``head_units``,
        ``dropout``, ``backbone_options``, ``name``, ...).

    Returns
    -------
    keras.Model
        Not compiled. Its backbone, if it has one, is the layer named ``"backbone"``.

    Raises
    ------
    ValueError
        If the configuration is invalid, or ``features`` has the wrong width.
    WeightsError
        If the weights cannot be downloaded or do not fit the backbone.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.models import build_model
    >>> model = build_model("compact", use_features=True, backbone_options={"widths": [8, 16]})
    >>> faces = np.zeros((2, 48, 48, 1), "uint8")
    >>> model.predict({"face": faces, "features": np.zeros((2, 2728))}, verbose=0).shape
    (2, 7)
    """
    if isinstance(backbone, ModelConfig):
        if use_features is not None or config or input_size is not None:
            raise ValueError("pass either a ModelConfig or its fields, not both")
        model_config = backbone
    else:
        model_config = ModelConfig(
            backbone=backbone,
            use_features=bool(use_features),
            num_classes=num_classes,
            input_size=input_size,
            **config,
        )
    face = keras.Input((FACE_SIZE, FACE_SIZE, 1), name=FACE_INPUT)
    inputs = {FACE_INPUT: face}
    x = None
    if model_config.backbone is not None:
        spec = get_backbone(model_config.backbone)
        size = model_config.resolved_input_size
        net = build_backbone(spec.name, size, weights, **model_config.backbone_options)
        net.name = BACKBONE_LAYER
        x = face
        if size != FACE_SIZE:
            x = keras.layers.Resizing(size, size, interpolation="bilinear", name="resize")(x)
        if spec.channels == 3:
            x = GrayToRGB(name="gray_to_rgb")(x)
        x = BackbonePreprocessing(spec.preprocessing, name="preprocessing")(x)
        x = net(x)
    elif weights is not None:
        raise ValueError("a model without a backbone has no backbone weights to load")

    if model_config.use_features:
        vector = keras.Input((FEATURE_SIZE,), name=FEATURES_INPUT)
        inputs[FEATURES_INPUT] = vector
        normalization = keras.layers.Normalization(name="feature_normalization")
        y = normalization(vector)
        if features is not None:
            adapt_feature_normalization(normalization, features)
        for i, units in enumerate(model_config.feature_units, start=1):
            if model_config.feature_dropout:
                y = keras.layers.Dropout(model_config.feature_dropout, name=f"feature_dropout{i}")(
                    y
                )
            y = keras.layers.Dense(units, activation="relu", name=f"feature_dense{i}")(y)
        x = y if x is None else keras.layers.Concatenate(name="fusion")([x, y])

    for i, units in enumerate(model_config.head_units, start=1):
        if model_config.dropout:
            x = keras.layers.Dropout(model_config.dropout, name=f"head_dropout{i}")(x)
        x = keras.layers.Dense(units, activation="relu", name=f"head_dense{i}")(x)
    if model_config.dropout:
        x = keras.layers.Dropout(model_config.dropout, name="output_dropout")(x)
    # float32 softmax, also under mixed precision
    outputs = keras.layers.Dense(
        model_config.num_classes, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    return keras.Model(inputs, outputs, name=model_config.model_name)


def adapt_feature_normalization(layer: keras.layers.Normalization, features: np.ndarray) -> None:
    """Set a ``Normalization`` layer to the mean and variance of training features.

    Variances are floored at 1e-4, so a feature that is (nearly) constant on the training
    faces does not become huge on others.

    Parameters
    ----------
    layer : keras.layers.Normalization
    features : (N, 2728) array

    Raises
    ------
    ValueError
        If ``features`` is not a non-empty ``(N, 2728)`` array.
    """
    features = np.asarray(features)
    if features.ndim != 2 or features.shape[1] != FEATURE_SIZE or len(features) == 0:
        raise ValueError(
            f"features to adapt the normalisation on must have shape (N, {FEATURE_SIZE}), "
            f"got {features.shape}"
        )
    layer.adapt(features.astype(np.float32, copy=False))
    # A feature (nearly) constant in training must not become huge on other faces.
    variance = np.maximum(np.asarray(layer.adapt_variance), _MIN_FEATURE_VARIANCE)
    layer.adapt_variance.assign(variance)
    layer.finalize_state()


def feature_normalization(model: keras.Model) -> keras.layers.Normalization | None:
    """The model's feature ``Normalization`` layer, or ``None`` without a feature branch."""
    try:
        return model.get_layer("feature_normalization")
    except ValueError:
        return None


def model_inputs(model: keras.Model) -> Sequence[str]:
    """Names of the inputs a model built by :func:`build_model` takes."""
    names = getattr(model, "input_names", None)
    if not names:
        inputs = model.inputs if isinstance(model.inputs, list) else [model.inputs]
        names = [t.name.split(":")[0] for t in inputs]
    return list(names)
