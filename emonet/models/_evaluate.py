"""Predictions of a trained model, and how good they are: accuracy, per-class scores,
the confusion matrix."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import numpy as np
from sklearn.metrics import classification_report, confusion_matrix

from emonet._constants import LABELS, NUM_CLASSES
from emonet.features import FeatureSet
from emonet.models._augment import mirror_batch
from emonet.models._data import make_dataset
from emonet.models._fusion import FEATURES_INPUT, model_inputs

__all__ = ["Evaluation", "evaluate_predictions", "plot_confusion_matrix", "predict"]


def predict(
    model: keras.Model, data: FeatureSet, batch_size: int = 256, tta: bool = False
) -> np.ndarray:
    """Class probabilities of every face of a feature set.

    Parameters
    ----------
    model : keras.Model
        A model of :func:`build_model` (or loaded by :func:`load_model`).
    data : FeatureSet
        Faces, and features when the model takes them.
    batch_size : int, default=256
    tta : bool, default=False
        Test-time augmentation: average the probabilities of each face and of its mirror
        image (whose landmarks are mirrored and HOG recomputed, :func:`mirror_batch`).
        Twice the work; models trained with flips gain from it.

    Returns
    -------
    (N, 7) float32
        Rows sum to 1.

    Examples
    --------
    >>> from emonet.features import load_features
    >>> from emonet.models import load_model, predict
    >>> model = load_model("runs/compact_features/model.keras")  # doctest: +SKIP
    >>> predict(model, load_features("fer2013.h5", usage="PublicTest")).shape  # doctest: +SKIP
    (3589, 7)
    """
    use_features = FEATURES_INPUT in model_inputs(model)

    def run(faces: FeatureSet) -> np.ndarray:
        dataset = make_dataset(
            faces, use_features=use_features, batch_size=batch_size, labels=False
        )
        return np.asarray(model.predict(dataset, verbose=0), dtype=np.float32)

    probabilities = run(data)
    if tta:
        images, features = mirror_batch(data.images, data.features if use_features else None)
        mirrored = replace(
            data, images=images, features=data.features if features is None else features
        )
        probabilities = (probabilities + run(mirrored)) / 2
    return probabilities


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
    >>> from emonet.models import evaluate_predictions
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


def plot_confusion_matrix(
    confusion: np.ndarray, path: str | os.PathLike[str], title: str = ""
) -> Path:
    """Draw a confusion matrix (counts, and row-normalised colours) into a PNG.

    Parameters
    ----------
    confusion : (7, 7) array
        Rows true labels, columns predicted labels.
    path : str or path-like
        The PNG to write.
    title : str, optional

    Returns
    -------
    pathlib.Path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    confusion = np.asarray(confusion)
    rates = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    figure, axis = plt.subplots(figsize=(7, 6))
    image = axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(confusion.shape[0]):
        for j in range(confusion.shape[1]):
            axis.text(
                j,
                i,
                f"{confusion[i, j]}\n{rates[i, j]:.0%}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if rates[i, j] > 0.5 else "black",
            )
    axis.set_xticks(range(len(LABELS)), LABELS, rotation=45, ha="right")
    axis.set_yticks(range(len(LABELS)), LABELS)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    accuracy = np.trace(confusion) / max(confusion.sum(), 1)
    axis.set_title((title + "  " if title else "") + f"accuracy {accuracy:.1%}")
    figure.colorbar(image, ax=axis, fraction=0.046, label="share of the true label")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
