"""emonet: facial expression recognition by multi-input feature fusion.

The EmoNet method (Kumari, University of Washington) describes a face by 68 dlib
landmarks and a sliding-window HOG (2,728 values), fuses that vector with a CNN
backbone on the pixels, and combines four such networks with weights learned by
differential evolution.
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

__version__ = "0.1.0"

__all__ = [
    "FACE_SIZE",
    "FEATURE_SIZE",
    "HOG_FEATURES",
    "LABELS",
    "LANDMARK_FEATURES",
    "NUM_CLASSES",
    "USAGES",
    "__version__",
]
