"""Scene cuts: a frame unlike the one before, after which boxes say nothing of who is
who."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["DEFAULT_CUT_THRESHOLD", "frame_signature", "is_scene_cut"]

#: Mean absolute difference (0-1) of two frames' signatures above which they are a cut.
DEFAULT_CUT_THRESHOLD = 0.15
_SIGNATURE_SIZE = (32, 24)


def frame_signature(image: np.ndarray) -> np.ndarray:
    """A tiny gray thumbnail of a frame (32x24, values 0-1), to compare frames cheaply.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.tracking import frame_signature
    >>> frame_signature(np.zeros((480, 640, 3), np.uint8)).shape
    (24, 32)
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
    small = cv2.resize(image, _SIGNATURE_SIZE, interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0


def is_scene_cut(
    previous: np.ndarray | None, signature: np.ndarray, threshold: float = DEFAULT_CUT_THRESHOLD
) -> bool:
    """Whether a frame (its :func:`frame_signature`) starts a new scene.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.tracking import frame_signature, is_scene_cut
    >>> dark = frame_signature(np.zeros((48, 64), np.uint8))
    >>> is_scene_cut(dark, dark), is_scene_cut(dark, frame_signature(np.full((48, 64), 200)))
    (False, True)
    """
    if previous is None or previous.shape != signature.shape:
        return False
    return float(np.abs(previous - signature).mean()) > threshold
