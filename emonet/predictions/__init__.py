"""Predictions: the files models write and ensembles read, and how good predictions are.

Prediction files hold one model's class probabilities for one split, stored as ``.npz``.

A model's evaluation writes one file per split; the ensemble reads one file per model.
A file holds these arrays:

``probabilities``
    ``(N, 7)`` float32, one row per face, one column per label of :data:`emonet.LABELS`;
    every row is a probability distribution (non-negative, sums to 1).
``labels``
    ``(N,)`` int64, the true label index of each face, or ``-1`` where it is unknown.
``ids``
    ``(N,)`` unicode, one unique id per face (FER2013 file stem such as ``PublicTest_123``).
``model_name``
    0-d unicode, the name of the model that made the predictions.
``format_version``
    0-d int64, currently 1.

Only ``probabilities`` is required when reading; missing ``labels`` read as all ``-1``,
missing ``ids`` as the row numbers ``"0" .. "N-1"`` and a missing ``model_name`` as the
file's stem. A file whose ``format_version`` is not 1 is refused. Whatever a file holds,
reading it either returns checked predictions or raises one ``ValueError`` that starts
with the file's path.

:func:`evaluate_predictions` scores probabilities against the true labels (accuracy,
per-class precision / recall / F1, the confusion matrix: an :class:`Evaluation`), with
numpy and scikit-learn alone, so the ensemble report, :mod:`emonet.reproduce` and the
scripts share it without importing Keras.
"""

from emonet.predictions._files import FORMAT_VERSION as FORMAT_VERSION  # not in __all__
from emonet.predictions._files import (
    UNKNOWN_LABEL,
    Predictions,
    load_predictions,
    save_predictions,
)
from emonet.predictions._scores import Evaluation, evaluate_predictions

__all__ = [
    "UNKNOWN_LABEL",
    "Evaluation",
    "Predictions",
    "evaluate_predictions",
    "load_predictions",
    "save_predictions",
]
