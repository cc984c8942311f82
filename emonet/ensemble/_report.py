"""The test report people can look at: tables, per-class scores, confusion matrix, outliers."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.utils.validation import check_is_fitted

from emonet._constants import LABELS, NUM_CLASSES
from emonet._io import atomic_open, atomic_write_text
from emonet._plotting import plot_confusion_matrix
from emonet.ensemble._calibration import TemperatureScaler, expected_calibration_error
from emonet.ensemble._stacking import StackingEnsemble
from emonet.ensemble._summary import compare_weightings
from emonet.ensemble._validation import check_labels, check_probabilities
from emonet.ensemble._weighted import WeightedEnsemble
from emonet.predictions import UNKNOWN_LABEL

__all__ = ["REPORT_FILES", "save_report"]

#: The files :func:`save_report` may write into its folder.
REPORT_FILES: tuple[str, ...] = (
    "report.md",
    "report.json",
    "confusion_matrix.png",
    "outliers.csv",
)

# Outliers listed in report.md; outliers.csv has them all.
_OUTLIERS_SHOWN = 20


def save_report(
    directory: str | os.PathLike[str],
    ensemble: WeightedEnsemble,
    probabilities: Sequence[np.ndarray] | np.ndarray,
    labels: np.ndarray | Sequence[int],
    *,
    ids: np.ndarray | Sequence[str] | None = None,
    stacking: StackingEnsemble | None = None,
    calibrator: TemperatureScaler | None = None,
    validation: dict[str, Any] | None = None,
    top_k: int = 3,
) -> dict[str, Path]:
    """Write a human-readable report of a fitted ensemble on a test split.

    Writes into ``directory`` (created if missing), each file atomically:

    ``report.md``
        Accuracy of each model, equal weights, learned weights (and stacking) like the
        paper's Table 2; per-class precision, recall and F1 of the learned weights like its
        Figure 13; calibration; the validation figures; the worst outliers.
    ``confusion_matrix.png``
        Confusion matrix of the learned weights, rows normalised.
    ``outliers.csv``
        Faces whose true label is not among the ensemble's ``top_k`` labels, least probable
        true label first: ``id``, ``true_label``, ``true_label_probability``, then
        ``top1_label``, ``top1_probability``, ... ``top{k}_probability``.
    ``report.json``
        The same figures, machine-readable.

    Rows labelled ``-1`` (unknown) are left out of every figure that needs a label; if no
    row has a label, ``report.md`` says so and gives the predicted label counts instead,
    and neither the PNG nor the CSV is written (old ones in ``directory`` are removed).

    Parameters
    ----------
    directory : str or path-like
        Folder to write into.
    ensemble : WeightedEnsemble
        Fitted on the validation split.
    probabilities : sequence of array-like of shape (n_samples, n_classes)
        Test probabilities, one array per model, in the order used for ``fit``.
    labels : array-like of shape (n_samples,)
        True label indices, ``-1`` where unknown.
    ids : sequence of str, optional
        Face ids for ``outliers.csv``. Default: row numbers.
    stacking : StackingEnsemble, optional
        Fitted on the validation split; adds a row to the accuracy table.
    calibrator : TemperatureScaler, optional
        Fitted on the ensemble's validation probabilities; adds the ECE after scaling.
    validation : dict, optional
        As returned by :func:`summarize_validation`; adds the validation figures.
    top_k : int, default=3
        A face is an outlier if its true label is not among this many top labels.

    Returns
    -------
    dict of str to pathlib.Path
        The files written, keyed ``"report"``, ``"json"`` and, with labels,
        ``"confusion_matrix"`` and ``"outliers"``.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``ensemble`` (or ``stacking``, ``calibrator``) is not fitted.
    ValueError
        If the inputs do not fit the ensemble.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.ensemble import WeightedEnsemble, save_report
    >>> y = np.array([0, 1, 2, 3, 4, 5, 6] * 3)
    >>> right, noise = np.eye(7)[y] * 0.5 + 0.5 / 7, np.full((21, 7), 1 / 7)
    >>> ensemble = WeightedEnsemble(random_state=0).fit([right, noise], y)
    >>> written = save_report("report", ensemble, [right, noise], y)
    >>> sorted(written)
    ['confusion_matrix', 'json', 'outliers', 'report']
    >>> print(written["report"].read_text().splitlines()[0])
    # Ensemble report
    """
    check_is_fitted(ensemble, "weights_")
    stacked, _ = check_probabilities(
        probabilities, n_models=ensemble.n_models_, n_classes=ensemble.n_classes_
    )
    n_samples, n_classes = stacked.shape[1:]
    labels = np.asarray(labels)
    if labels.shape != (n_samples,) or labels.dtype.kind not in "iu":
        raise ValueError(
            f"labels must be {n_samples} integer label indices (-1 when unknown), got "
            f"dtype {labels.dtype} and shape {labels.shape}"
        )
    ids = np.arange(n_samples).astype(str) if ids is None else np.asarray(ids).astype(str)
    if ids.shape != (n_samples,):
        raise ValueError(f"ids has shape {ids.shape}; expected ({n_samples},)")
    if not 1 <= top_k <= n_classes:
        raise ValueError(f"top_k must be between 1 and {n_classes}, got {top_k!r}")

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = _label_names(n_classes)
    models = ensemble.model_names_
    mixed = ensemble.predict_proba(stacked)
    known = labels != UNKNOWN_LABEL
    n_known = int(known.sum())
    figures: dict[str, Any] = {
        "n_samples": int(n_samples),
        "n_labelled": n_known,
        "models": [
            {"name": name, "weight": float(weight)}
            for name, weight in zip(models, ensemble.weights_, strict=True)
        ],
    }
    lines = [
        "# Ensemble report",
        "",
        f"Test split: {n_samples} faces, {len(models)} models. Weights learned on the "
        f"validation split (objective: {ensemble.objective}).",
        "",
    ]
    written: dict[str, Path] = {}

    if n_known == 0:
        lines += _unlabelled_lines(ensemble, mixed, names, figures)
        # a previous labelled run's files would contradict this report
        for stale in ("confusion_matrix.png", "outliers.csv"):
            (directory / stale).unlink(missing_ok=True)
    else:
        y = check_labels(labels[known], n_known, n_classes)
        sub, sub_mixed, predicted = stacked[:, known], mixed[known], mixed[known].argmax(axis=1)
        if n_known < n_samples:
            lines += [
                f"Only {n_known} of the {n_samples} faces have labels (the rest are -1); "
                f"every figure below uses those {n_known}.",
                "",
            ]
        lines += _accuracy_lines(ensemble, stacking, sub, y, figures)
        lines += _validation_lines(validation)
        lines += _per_class_lines(y, predicted, names, figures)
        lines += _calibration_lines(calibrator, sub_mixed, y, figures)

        matrix = confusion_matrix(y, predicted, labels=np.arange(n_classes))
        figures["confusion_matrix"] = matrix.tolist()
        written["confusion_matrix"] = plot_confusion_matrix(
            matrix, directory / "confusion_matrix.png", title="Learned weights", names=names
        )
        lines += [
            "## Confusion matrix (learned weights)",
            "",
            "![Confusion matrix](confusion_matrix.png)",
            "",
            "Rows are true labels, columns predicted labels; each cell shows the count and "
            "the share of its row.",
            "",
        ]

        outliers = _outliers(sub_mixed, y, ids[known], names, top_k)
        figures["n_outliers"] = len(outliers)
        written["outliers"] = _save_outliers(outliers, top_k, directory / "outliers.csv")
        lines += _outlier_lines(outliers, n_known, top_k)

    if validation is not None:
        figures["validation"] = validation
    written["json"] = atomic_write_text(
        directory / "report.json", json.dumps(figures, indent=2, allow_nan=False) + "\n"
    )
    written["report"] = atomic_write_text(directory / "report.md", "\n".join(lines))
    return written


def _unlabelled_lines(
    ensemble: WeightedEnsemble, mixed: np.ndarray, names: list[str], figures: dict[str, Any]
) -> list[str]:
    """The weights and predicted label counts, all that can be said without labels."""
    predicted = np.bincount(mixed.argmax(axis=1), minlength=len(names))
    figures["predicted_counts"] = dict(zip(names, predicted.tolist(), strict=True))
    weights = zip(ensemble.model_names_, ensemble.weights_, strict=True)
    return [
        "**The test files carry no labels (every label is -1)**, so accuracy, per-class "
        "scores, calibration, the confusion matrix and outliers cannot be computed.",
        "",
        "## Weights",
        "",
        *_table(["Model", "Weight"], [[name, f"{w:.3f}"] for name, w in weights]),
        "",
        "## Predicted labels (learned weights)",
        "",
        *_table(["Label", "Faces"], [[n, str(c)] for n, c in zip(names, predicted, strict=True)]),
        "",
    ]


def _accuracy_lines(
    ensemble: WeightedEnsemble,
    stacking: StackingEnsemble | None,
    stacked: np.ndarray,
    y: np.ndarray,
    figures: dict[str, Any],
) -> list[str]:
    """The paper's Table 2: each model, equal weights, learned weights (and stacking)."""
    models = ensemble.model_names_
    accuracy = compare_weightings(stacked, y, ensemble.weights_, model_names=models)
    figures["accuracy"] = accuracy
    rows = [
        [name, f"{weight:.3f}", _percent(accuracy["models"][name])]
        for name, weight in zip(models, ensemble.weights_, strict=True)
    ]
    rows.append(
        ["Equal weights", f"{1 / len(models):.3f} each", _percent(accuracy["equal_weights"])]
    )
    rows.append(["**Learned weights**", "", f"**{_percent(accuracy['learned_weights'])}**"])
    if stacking is not None:
        figures["stacking_accuracy"] = stacking.score(stacked, y)
        rows.append(["Stacking (logistic regression)", "", _percent(figures["stacking_accuracy"])])
    return [
        "## Accuracy (the paper's Table 2)",
        "",
        *_table(["Model", "Weight", "Accuracy"], rows),
        "",
    ]


def _per_class_lines(
    y: np.ndarray, predicted: np.ndarray, names: list[str], figures: dict[str, Any]
) -> list[str]:
    """Precision, recall and F1 per label (the paper's Figure 13), and their macro average.

    A score with no faces to rest on (recall of a label absent from the split, precision of
    a label never predicted) is undefined: "-" in the table, null in the JSON, and left out
    of the macro average, rather than a misleading 0.
    """
    precision, recall, f1, support = precision_recall_fscore_support(
        y, predicted, labels=np.arange(len(names)), zero_division=np.nan
    )
    columns = (names, precision, recall, f1, support)
    figures["per_class"] = {
        name: {
            "precision": _finite_or_none(p),
            "recall": _finite_or_none(r),
            "f1": _finite_or_none(f),
            "support": int(s),
        }
        for name, p, r, f, s in zip(*columns, strict=True)
    }
    rows = [
        [name, _score(p), _score(r), _score(f), str(s)]
        for name, p, r, f, s in zip(*columns, strict=True)
    ]
    means = [_score(np.nanmean(v)) if np.isfinite(v).any() else "-" for v in columns[1:4]]
    rows.append(["*macro average*", *means, str(support.sum())])
    return [
        "## Per-class precision, recall and F1 (learned weights; the paper's Figure 13)",
        "",
        *_table(["Label", "Precision", "Recall", "F1", "Faces"], rows),
        "",
    ]


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _score(value: float) -> str:
    return f"{value:.3f}" if np.isfinite(value) else "-"


def _calibration_lines(
    calibrator: TemperatureScaler | None,
    proba: np.ndarray,
    y: np.ndarray,
    figures: dict[str, Any],
) -> list[str]:
    """Expected calibration error, before and after the validation temperature."""
    calibration: dict[str, Any] = {"n_bins": 15, "ece": expected_calibration_error(proba, y)}
    rows = [["Learned weights", _percent(calibration["ece"])]]
    if calibrator is not None:
        after = expected_calibration_error(calibrator.transform(proba), y)
        calibration.update(temperature=calibrator.temperature_, ece_after_temperature=after)
        label = f"Learned weights, temperature {calibrator.temperature_:.3f} (fit on validation)"
        rows.append([label, _percent(after)])
    figures["calibration"] = calibration
    return [
        "## Calibration",
        "",
        "Expected calibration error over 15 confidence bins: the mean gap between how sure "
        "the ensemble is and how often it is right (0 is perfect).",
        "",
        *_table(["Probabilities", "ECE"], rows),
        "",
    ]


def _outlier_lines(outliers: list[dict[str, Any]], n_known: int, top_k: int) -> list[str]:
    """How many faces miss the top k, and a table of the least probable true labels."""
    shown = [
        [
            row["id"],
            row["true_label"],
            f"{row['true_label_probability']:.3f}",
            ", ".join(
                f"{row[f'top{rank}_label']} {row[f'top{rank}_probability']:.2f}"
                for rank in range(1, top_k + 1)
            ),
        ]
        for row in outliers[:_OUTLIERS_SHOWN]
    ]
    return [
        f"## Outliers: true label not in the top {top_k}",
        "",
        f"{len(outliers)} of {n_known} faces ({_percent(len(outliers) / n_known)}); all in "
        f"`outliers.csv`, the {len(shown)} least probable true labels below. Many are "
        "mislabelled or ambiguous faces; look at them.",
        "",
        *_table(["Id", "True label", "P(true)", f"Top {top_k}"], shown, align="llrl"),
        "",
    ]


def _validation_lines(validation: dict[str, Any] | None) -> list[str]:
    """Markdown lines comparing the in-sample and cross-validated validation accuracy."""
    if validation is None:
        return []
    accuracy = validation["accuracy"]
    cv = validation["cross_validation"]
    learned, stacking = cv["learned_weights"], cv["stacking"]
    rows = [
        [
            f"Best single model ({accuracy['best_single_model']})",
            _percent(accuracy["best_single"]),
            "",
        ],
        ["Equal weights", _percent(accuracy["equal_weights"]), ""],
        [
            "Learned weights",
            _percent(accuracy["learned_weights"]),
            f"**{_percent(learned['mean'])} ± {100 * learned['std']:.2f}**",
        ],
        [
            "Stacking (logistic regression)",
            "",
            f"{_percent(stacking['mean'])} ± {100 * stacking['std']:.2f}",
        ],
    ]
    return [
        f"### On the validation split ({validation['n_samples']} faces)",
        "",
        *_table(
            ["", "Fit and scored on all of it", f"Cross-validated ({cv['n_splits']} folds)"], rows
        ),
        "",
        "Weights fit and scored on the same faces look better than they are; the "
        "cross-validated figure (fit on the other folds, scored on the held-out fold) is "
        "the one to quote. Models alone and equal weights learn nothing from the split.",
        "",
    ]


def _outliers(
    proba: np.ndarray, y: np.ndarray, ids: np.ndarray, names: list[str], top_k: int
) -> list[dict[str, Any]]:
    """Rows whose true label is not among the top_k most probable, least probable first."""
    # stable sort on -p keeps the lower label index first among equal probabilities
    ranking = np.argsort(-proba, axis=1, kind="stable")[:, :top_k]
    missed = ~(ranking == y[:, None]).any(axis=1)
    true_probability = proba[np.arange(y.size), y]
    rows = []
    for index in np.flatnonzero(missed)[np.argsort(true_probability[missed], kind="stable")]:
        row: dict[str, Any] = {
            "id": str(ids[index]),
            "true_label": names[y[index]],
            "true_label_probability": float(true_probability[index]),
        }
        for rank, label in enumerate(ranking[index], start=1):
            row[f"top{rank}_label"] = names[label]
            row[f"top{rank}_probability"] = float(proba[index, label])
        rows.append(row)
    return rows


def _save_outliers(rows: list[dict[str, Any]], top_k: int, path: Path) -> Path:
    fields = ["id", "true_label", "true_label_probability"]
    for rank in range(1, top_k + 1):
        fields += [f"top{rank}_label", f"top{rank}_probability"]
    with atomic_open(path, "w") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    key: f"{value:.6f}" if isinstance(value, float) else value
                    for key, value in row.items()
                }
            )
    return path


def _label_names(n_classes: int) -> list[str]:
    return list(LABELS) if n_classes == NUM_CLASSES else [str(i) for i in range(n_classes)]


def _percent(value: float) -> str:
    return f"{100 * value:.2f} %"


def _table(header: list[str], rows: list[list[str]], align: str | None = None) -> list[str]:
    """A Markdown table; ``align`` has one "l" or "r" per column (default: "l" then "r"s)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = {"l": ":---", "r": "---:"}
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(rule[side] for side in align) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines
