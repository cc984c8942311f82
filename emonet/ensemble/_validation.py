"""Checking lists of probability arrays, and aligning prediction files of several models."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from emonet.predictions import UNKNOWN_LABEL, Predictions, load_predictions

# float32 softmax rows are off by ~1e-6; allow more so rounded exports still pass.
_ROW_SUM_TOLERANCE = 1e-3


class AlignedPredictions(NamedTuple):
    """Prediction sets of several models, checked to describe the same faces in the same order.

    Attributes
    ----------
    probabilities : list of ndarray of shape (n_samples, n_classes)
        One float32 array per model, rows in the order of ``ids``.
    labels : ndarray of shape (n_samples,)
        True label indices, ``-1`` where no model's file knows the label.
    ids : ndarray of shape (n_samples,)
        Face ids, in the order of the first model's file.
    model_names : list of str
        One unique name per model, in input order.
    """

    probabilities: list[np.ndarray]
    labels: np.ndarray
    ids: np.ndarray
    model_names: list[str]


def align_predictions(
    predictions: Sequence[Predictions | str | os.PathLike[str]],
) -> AlignedPredictions:
    """Check that several models' predictions cover the same faces, and line them up.

    Rows are put in the order of the first input's ids, so files that list the same faces
    in different orders are accepted. Labels are merged: a face's label is the one any input
    knows (inputs without labels hold ``-1``), and inputs that know different labels for the
    same face are an error.

    Parameters
    ----------
    predictions : sequence of Predictions or path-like
        One entry per model; paths are read with :func:`emonet.predictions.load_predictions`.

    Returns
    -------
    AlignedPredictions
        ``(probabilities, labels, ids, model_names)``.

    Raises
    ------
    ValueError
        If the sequence is empty, two inputs have the same model name, or inputs differ in
        their number of rows, their set of ids or their labels. The message names the inputs
        (their paths, or their model names for in-memory predictions).
    FileNotFoundError
        If a path does not exist.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.predictions import Predictions
    >>> from emonet.ensemble import align_predictions
    >>> a = Predictions(np.eye(7)[[0, 1]], labels=[0, 1], ids=["x", "y"], model_name="a")
    >>> b = Predictions(np.eye(7)[[1, 0]], ids=["y", "x"], model_name="b")
    >>> aligned = align_predictions([a, b])
    >>> aligned.ids.tolist(), aligned.labels.tolist(), aligned.model_names
    (['x', 'y'], [0, 1], ['a', 'b'])
    >>> aligned.probabilities[1].argmax(axis=1).tolist()
    [0, 1]
    """
    if isinstance(predictions, str | os.PathLike | Predictions) or len(predictions) == 0:
        raise ValueError("expected a non-empty list of predictions, one per model")
    loaded: list[Predictions] = []
    sources: list[str] = []
    for item in predictions:
        if isinstance(item, Predictions):
            loaded.append(item)
            sources.append(f"model {item.model_name!r}")
        else:
            loaded.append(load_predictions(item))
            sources.append(str(Path(item)))

    seen: dict[str, str] = {}
    for item, source in zip(loaded, sources, strict=True):
        if item.model_name in seen:
            raise ValueError(
                f"{seen[item.model_name]} and {source} are both model {item.model_name!r}; "
                "each model must appear once (give the models distinct model_name values)"
            )
        seen[item.model_name] = source

    first, first_source = loaded[0], sources[0]
    order_of_first = {face: row for row, face in enumerate(first.ids)}
    probabilities = [first.probabilities]
    labels = first.labels.copy()
    for item, source in zip(loaded[1:], sources[1:], strict=True):
        if item.n_samples != first.n_samples:
            raise ValueError(
                f"{source} has {item.n_samples} rows but {first_source} has "
                f"{first.n_samples}; evaluate every model on the same split"
            )
        rows = np.array([order_of_first.get(face, -1) for face in item.ids])
        if (rows < 0).any():
            missing = int(np.count_nonzero(rows < 0))
            example = str(item.ids[int(np.argmax(rows < 0))])
            raise ValueError(
                f"{source} and {first_source} hold different faces: {missing} ids of "
                f"{source} (e.g. {example!r}) are not in {first_source}; evaluate every "
                "model on the same split"
            )
        # rows[i] is where item's row i belongs in the first file's order
        order = np.argsort(rows)
        item_labels = item.labels[order]
        conflict = (labels != UNKNOWN_LABEL) & (item_labels != UNKNOWN_LABEL)
        conflict &= labels != item_labels
        if conflict.any():
            row = int(conflict.argmax())
            raise ValueError(
                f"{source} and {first_source} disagree on the labels of "
                f"{int(conflict.sum())} faces (e.g. {str(first.ids[row])!r}: "
                f"{item_labels[row]} vs {labels[row]}); the files were not made from the "
                "same split"
            )
        labels = np.where(labels == UNKNOWN_LABEL, item_labels, labels)
        probabilities.append(item.probabilities[order])

    return AlignedPredictions(
        probabilities, labels, first.ids.copy(), [item.model_name for item in loaded]
    )


def check_probabilities(
    probabilities: Any,
    y: Any = None,
    *,
    n_models: int | None = None,
    n_classes: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Check a list of per-model probability arrays (and labels) and stack them.

    Parameters
    ----------
    probabilities : sequence of array-like, or ndarray of shape (n_models, n_samples, n_classes)
        One (n_samples, n_classes) array per model, rows describing the same samples in the
        same order.
    y : array-like of shape (n_samples,), optional
        Label indices in ``0 .. n_classes - 1``.
    n_models, n_classes : int, optional
        Required number of models and classes (those a fitted estimator saw).

    Returns
    -------
    stacked : ndarray of shape (n_models, n_samples, n_classes)
        float64 copy of the probabilities.
    y : ndarray of shape (n_samples,) or None
        int64 labels, or None if ``y`` was None.

    Raises
    ------
    ValueError
        If the arrays disagree in shape, hold non-probabilities, or ``y`` does not fit.
    """
    if isinstance(probabilities, np.ndarray) and probabilities.ndim != 3:
        raise ValueError(
            f"expected a list of (n_samples, n_classes) arrays, one per model; got one array "
            f"of shape {probabilities.shape} (for a single model, pass [probabilities])"
        )
    if isinstance(probabilities, str | bytes) or not hasattr(probabilities, "__len__"):
        raise ValueError(
            f"expected a list of (n_samples, n_classes) arrays, one per model; "
            f"got {type(probabilities).__name__}"
        )
    if len(probabilities) == 0:
        raise ValueError("expected a list of probability arrays, one per model; got none")

    arrays = []
    for index, array in enumerate(probabilities):
        name = f"probabilities[{index}]"
        try:
            array = np.asarray(array, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} is not a numeric array ({exc})") from exc
        if array.ndim != 2:
            raise ValueError(f"{name} has shape {array.shape}; expected (n_samples, n_classes)")
        if arrays and array.shape[0] != arrays[0].shape[0]:
            raise ValueError(
                f"{name} has {array.shape[0]} rows but probabilities[0] has "
                f"{arrays[0].shape[0]}; every model must score the same samples in the "
                "same order"
            )
        if arrays and array.shape[1] != arrays[0].shape[1]:
            raise ValueError(
                f"{name} has {array.shape[1]} classes but probabilities[0] has "
                f"{arrays[0].shape[1]}; every model must use the same label set"
            )
        if array.shape[0] == 0:
            raise ValueError(f"{name} has no rows; expected at least one sample")
        if array.shape[1] < 2:
            raise ValueError(f"{name} has {array.shape[1]} classes; expected at least 2")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} holds NaN or infinity")
        if array.min() < 0:
            raise ValueError(
                f"{name} holds negative values; pass softmax probabilities, not logits"
            )
        deviation = np.abs(array.sum(axis=1) - 1.0)
        if deviation.max() > _ROW_SUM_TOLERANCE:
            row = int(deviation.argmax())
            raise ValueError(
                f"{name} row {row} sums to {array[row].sum():.6g}; every row must sum to 1 "
                "(pass softmax probabilities, not logits or scores)"
            )
        arrays.append(array)
    stacked = np.stack(arrays)

    if n_models is not None and stacked.shape[0] != n_models:
        raise ValueError(
            f"got {stacked.shape[0]} probability arrays but the estimator was fitted on "
            f"{n_models} models; pass one array per model, in the order used for fit"
        )
    if n_classes is not None and stacked.shape[2] != n_classes:
        raise ValueError(
            f"probabilities have {stacked.shape[2]} classes but the estimator was fitted "
            f"on {n_classes}"
        )
    if y is None:
        return stacked, None
    return stacked, check_labels(y, stacked.shape[1], stacked.shape[2])


def check_labels(y: Any, n_samples: int, n_classes: int) -> np.ndarray:
    """Check that ``y`` holds ``n_samples`` known label indices below ``n_classes``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Label indices.
    n_samples : int
        Required length.
    n_classes : int
        Number of classes; labels must lie in ``0 .. n_classes - 1``.

    Returns
    -------
    ndarray of shape (n_samples,)
        The labels as int64.

    Raises
    ------
    ValueError
        If ``y`` has the wrong shape, is not integral, holds ``-1`` or is out of range.
    """
    y = np.asarray(y)
    if y.shape != (n_samples,):
        raise ValueError(f"y has shape {y.shape}; expected ({n_samples},), one label per sample")
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu":
        raise ValueError(f"y must hold integer label indices, got dtype {y.dtype}")
    if np.any(y == UNKNOWN_LABEL):
        raise ValueError(
            f"y holds {int(np.count_nonzero(y == UNKNOWN_LABEL))} unknown labels (-1); "
            "fitting and scoring need the true label of every sample"
        )
    if y.min() < 0 or y.max() >= n_classes:
        bad = y[(y < 0) | (y >= n_classes)][0]
        raise ValueError(f"y holds {bad}; expected label indices 0..{n_classes - 1}")
    return y.astype(np.int64)
