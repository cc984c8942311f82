"""The EmoNet paper's experiment in one call, and the bundle that takes it to a GPU machine.

:func:`reproduce` extracts the features (or reads them), trains the four networks of the
paper (:data:`emonet.models.PAPER_VARIANTS`), predicts PublicTest and PrivateTest with
and without mirror averaging, learns the ensemble weights on PublicTest and writes the
paper's Table 1 and Table 2 beside ours, per-class figures, confusion matrices, training
curves and the cost of every stage. :func:`pack_bundle` packs FER2013 into a file small
enough to carry to a machine without dlib or TensorFlow, where :func:`load_bundle`
recomputes the features with numpy. See ``docs/reproduce.md``.
"""

from emonet.reproduce._bundle import BundleReport, load_bundle, pack_bundle, stratified_rows
from emonet.reproduce._paper import PAPER_ACCURACY, PAPER_WEIGHTS, SCALES, Scale
from emonet.reproduce._reproduce import Reproduction, clear_reproduction, reproduce

__all__ = [
    "PAPER_ACCURACY",
    "PAPER_WEIGHTS",
    "SCALES",
    "BundleReport",
    "Reproduction",
    "Scale",
    "clear_reproduction",
    "load_bundle",
    "pack_bundle",
    "reproduce",
    "stratified_rows",
]
