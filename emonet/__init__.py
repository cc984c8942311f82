"""emonet: facial expression recognition by multi-input feature fusion.

The EmoNet method (Kumari, University of Washington) describes a face by 68 dlib
landmarks and a sliding-window HOG (2,728 values), fuses that vector with a CNN
backbone on the pixels, and combines four such networks with weights learned by
differential evolution.

:func:`import_tensorflow` imports Keras and its backend quietly, for a script to call
before it imports :mod:`emonet.models` or :mod:`emonet.recognize`.
"""

from emonet._constants import (
    FACE_SIZE,
    FEATURE_SIZE,
    HOG_FEATURES,
    LABELS,
    LANDMARK_FEATURES,
    NUM_CLASSES,
    USAGES,
)
from emonet._tensorflow import import_tensorflow

__version__ = "0.1.0"

# The recognizer loads TensorFlow and dlib: imported on first use, so that
# ``import emonet.data`` (or ``emonet.features``) stays light.
_LAZY = {"Recognizer": "emonet.recognize", "list_presets": "emonet.recognize"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'emonet' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "FACE_SIZE",
    "FEATURE_SIZE",
    "HOG_FEATURES",
    "LABELS",
    "LANDMARK_FEATURES",
    "NUM_CLASSES",
    "USAGES",
    "Recognizer",
    "__version__",
    "import_tensorflow",
    "list_presets",
]
