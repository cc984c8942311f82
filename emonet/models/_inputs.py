"""What a network reads and gives: the checks and widths that prediction and quantization
share, for a Keras model and its int8 copy (:class:`~emonet.models.LiteModel`) alike."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from emonet._constants import FACE_SIZE, FEATURE_SIZE
from emonet.features import FeatureExtractor
from emonet.models._fusion import FEATURES_INPUT, model_inputs


def check_faces(images: np.ndarray) -> np.ndarray:
    """``(N, 48, 48)`` uint8 faces (a trailing channel axis of 1 dropped), or a
    ``ValueError`` that says what was expected."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or images.shape[1:] != (FACE_SIZE, FACE_SIZE):
        raise ValueError(
            f"expected {FACE_SIZE}x{FACE_SIZE} grayscale faces, shape (N, {FACE_SIZE}, "
            f"{FACE_SIZE}), got {images.shape}; crop photos with emonet.features.crop_faces"
        )
    if images.dtype != np.uint8:
        raise ValueError(f"expected uint8 faces (0-255), got dtype {images.dtype}")
    return images


def feature_width(model: Any) -> int | None:
    """Width of the model's features input; ``None`` if it reads none."""
    if not isinstance(model, keras.Model):  # a LiteModel says it
        return model.feature_width
    if FEATURES_INPUT not in model_inputs(model):
        return None
    width = keras_feature_width(model)
    return FEATURE_SIZE if width is None else width


def keras_feature_width(model: keras.Model) -> int | None:
    """Width of the input tensor a Keras model names as its features; ``None`` if none."""
    inputs = model.inputs if isinstance(model.inputs, list) else [model.inputs]
    for tensor in inputs:
        if tensor.name.split(":")[0] == FEATURES_INPUT:
            return int(tensor.shape[-1])
    return None


def num_outputs(model: Any) -> int:
    """Number of classes the model gives probabilities of."""
    if not isinstance(model, keras.Model):
        return model.num_classes
    return int(model.outputs[0].shape[-1])


def extractor_of(model: Any) -> FeatureExtractor:
    """The extractor of the features the model reads, with the settings it was trained
    with when its file records them."""
    info = getattr(model, "emonet_info", None)
    settings = getattr(info, "feature_settings", None) or {}
    parameters = FeatureExtractor().get_params()
    return FeatureExtractor(**{k: v for k, v in settings.items() if k in parameters})
