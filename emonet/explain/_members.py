"""What an explanation runs: one model or an ensemble's members with their weights."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from emonet._constants import FACE_SIZE, NUM_CLASSES
from emonet.explain._choices import BASELINES
from emonet.models import predict_crops

#: Standard deviation of the blur baseline, in crop pixels.
BLUR_SIGMA: float = 5.0


@dataclass
class Members:
    """Models and their weights (summing to 1), run on 48x48 uint8 crops."""

    models: list[Any]
    weights: np.ndarray
    batch_size: int = 256

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Weighted average of the members' probabilities, ``(N, 7)`` float64; no
        test-time augmentation (an explanation is of the network's own reading)."""
        total = np.zeros((len(images), NUM_CLASSES), np.float64)
        if not len(images):
            return total
        for weight, model in zip(self.weights, self.models, strict=True):
            if weight:
                total += weight * predict_crops(
                    model, images, batch_size=self.batch_size, tta="none"
                ).astype(np.float64)
        return total


def as_members(
    models: Any, weights: Sequence[float] | None = None, batch_size: int = 256
) -> Members:
    """One model, or a list of them with optional weights, as :class:`Members`."""
    if isinstance(models, Members):
        return models
    items = list(models) if isinstance(models, list | tuple) else [models]
    if not items:
        raise ValueError("models: give at least one model")
    for item in items:
        if not hasattr(item, "predict_on_batch"):
            raise ValueError(
                f"models: expected emonet models (emonet.models.load_model or "
                f"load_lite_model), got {type(item).__name__}"
            )
    if weights is None:
        array = np.full(len(items), 1.0 / len(items))
    else:
        array = np.asarray(weights, np.float64).ravel()
        if array.shape != (len(items),) or not np.isfinite(array).all() or (array < 0).any():
            raise ValueError(
                f"weights: expected {len(items)} finite weights >= 0, one per model, got "
                f"{np.asarray(weights).tolist()!r}"
            )
        if array.sum() <= 0:
            raise ValueError("weights: at least one weight must be positive")
        array = array / array.sum()
    return Members(items, array, int(batch_size))


def baseline_images(images: np.ndarray, baseline: str = "blur") -> np.ndarray:
    """What a masked pixel becomes: the crops blurred, or each crop's mean grey."""
    if baseline == "blur":
        return (
            np.stack(
                [
                    cv2.GaussianBlur(image, (0, 0), BLUR_SIGMA, borderType=cv2.BORDER_REFLECT)
                    for image in images
                ]
            )
            if len(images)
            else images.copy()
        )
    if baseline == "mean":
        means = images.reshape(len(images), -1).mean(axis=1)
        return np.broadcast_to(np.round(means)[:, None, None], images.shape).astype(np.uint8)
    raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, got {baseline!r}")


def check_crops(images: Any) -> np.ndarray:
    """Crops as ``(N, 48, 48)`` uint8, one clear error otherwise."""
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or images.shape[1:] != (FACE_SIZE, FACE_SIZE) or images.dtype != np.uint8:
        raise ValueError(
            f"crops must be (N, {FACE_SIZE}, {FACE_SIZE}) uint8 aligned faces, got shape "
            f"{images.shape} and dtype {images.dtype}"
        )
    return np.ascontiguousarray(images)
