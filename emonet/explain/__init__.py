"""Explanations: which parts of a face made a network's call, and how faithful that is.

Three methods (:data:`METHODS`) give, per face crop, a map over the crop and the shares
of the face's landmark-drawn regions (:data:`REGIONS`, :func:`region_masks`):
``"occlusion"`` (patches blurred away, forward passes only), ``"regions"`` (exact
Shapley values of the 8 regions, :func:`shapley_values`) and ``"gradcam"`` (the last
convolution block of float Keras models, on TensorFlow, JAX and PyTorch). :func:`explain`
runs one model or an ensemble's members; :func:`explain_features` attributes a two-branch
network's 2,728 features to landmark parts and HOG windows. :func:`deletion_insertion`
and :func:`curve_auc` measure how faithful a map is; :func:`overlay_map` and
:func:`plot_regions` draw it. :meth:`emonet.Recognizer.explain` explains the faces of
photos. A map shows what moves this network's output, not what the person feels: see
``docs/explain.md``.
"""

from emonet.explain._choices import BASELINES, METHODS
from emonet.explain._plot import overlay_map, overlay_photo, plot_regions
from emonet.explain._regions import REGIONS, crop_landmarks, region_masks
from emonet.explain._result import Explanation
from emonet.explain._shapley import shapley_values

# name -> module, imported on first use: they need Keras, and the commands read METHODS
# and REGIONS before TensorFlow starts
_LAZY = {
    "explain": "emonet.explain._explain",
    "curve_auc": "emonet.explain._faithfulness",
    "deletion_insertion": "emonet.explain._faithfulness",
    "FeatureAttribution": "emonet.explain._features",
    "explain_features": "emonet.explain._features",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # found directly from now on
        return value
    raise AttributeError(f"module 'emonet.explain' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "BASELINES",
    "METHODS",
    "REGIONS",
    "Explanation",
    "FeatureAttribution",
    "crop_landmarks",
    "curve_auc",
    "deletion_insertion",
    "explain",
    "explain_features",
    "overlay_map",
    "overlay_photo",
    "plot_regions",
    "region_masks",
    "shapley_values",
]
