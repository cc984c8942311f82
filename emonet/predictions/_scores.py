"""How good predictions are: accuracy, per-class scores, the confusion matrix.

numpy and scikit-learn only: the ensemble report, :mod:`emonet.reproduce`, the commands
and the scripts score probabilities without importing Keras. The confusion matrix is
drawn by :func:`emonet._plotting.plot_confusion_matrix`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix

from emonet._constants import LABELS, NUM_CLASSES

__all__ = ["Evaluation", "evaluate_predictions"]


@dataclass
class Evaluation:
    """Scores of predictions against true labels.

    Attributes
    ----------
    accuracy : float
    confusion : (7, 7) int ndarray
        Rows: true label, columns: predicted label, in the order of :data:`emonet.LABELS`.
    report : dict
        scikit-learn's ``classification_report`` as a dict: per label ``precision``,
        ``recall``, ``f1-score``, ``support``, plus the averages.
    text : str
        The same report as a table.
    n_faces : int
        Faces with a known label that were scored.
    """

    accuracy: float
    confusion: np.ndarray
    report: dict
    text: str
    n_faces: int


def evaluate_predictions(probabilities: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Accuracy, per-class precision / recall / F1 and the confusion matrix.

    Faces whose label is unknown (-1) are left out.

    Parameters
    ----------
    probabilities : (N, 7) array
    labels : (N,) int

    Returns
    -------
    Evaluation

    Raises
    ------
    ValueError
        If no face has a known label.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.predictions import evaluate_predictions
    >>> result = evaluate_predictions(np.eye(7)[[0, 3, 3]], np.array([0, 3, 4]))
    >>> round(result.accuracy, 3), int(result.confusion[4, 3])
    (0.667, 1)
    """
    probabilities = np.asarray(probabilities)
    labels = np.asarray(labels)
    known = labels >= 0
    if not known.any():
        raise ValueError("no face has a known label; cannot score the predictions")
    y_true = labels[known]
    y_pred = probabilities[known].argmax(axis=1)
    classes = list(range(NUM_CLASSES))
    report = classification_report(
        y_true,
        y_pred,
        labels=classes,
        target_names=list(LABELS),
        output_dict=True,
        zero_division=0,
    )
    text = classification_report(
        y_true, y_pred, labels=classes, target_names=list(LABELS), digits=3, zero_division=0
    )
    return Evaluation(
        accuracy=float(np.mean(y_true == y_pred)),
        confusion=confusion_matrix(y_true, y_pred, labels=classes),
        report=report,
        text=text,
        n_faces=int(known.sum()),
    )
