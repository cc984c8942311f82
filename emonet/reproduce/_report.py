"""The reproduction's tables, per-class figures, costs and curves, as JSON, Markdown, PNG."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from emonet._constants import LABELS
from emonet._io import atomic_write_text
from emonet._plotting import new_figure, plot_confusion_matrix, save_figure
from emonet.ensemble import compare_weightings
from emonet.predictions import evaluate_predictions
from emonet.reproduce._paper import PAPER_ACCURACY, PAPER_WEIGHTS

__all__ = ["write_tables"]

ENSEMBLE_ROWS = ("equal_weights", "learned_weights", "learned_weights_cv")
ROW_NAMES = {
    "inception_resnet_v2": "Inception-ResNet v2 (pixels only)",
    "inception_resnet_v2_features": "Inception-ResNet v2 (pixels + features)",
    "resnet50": "ResNet-50 (pixels only)",
    "resnet50_features": "ResNet-50 (pixels + features)",
    "equal_weights": "Ensemble, equal weights",
    "learned_weights": "Ensemble, learned weights",
    "learned_weights_cv": "Ensemble, learned weights, cross-validated on PublicTest",
}
# the mode whose per-class figures and confusion matrices are drawn
MAIN_MODE = "flip"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|:---|" + "---:|" * (len(header) - 1),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _accuracy(names, predictions, ensembles) -> dict:
    """``{mode: {split: {row: accuracy}}}`` for Table 2."""
    table: dict[str, dict[str, dict[str, float | None]]] = {}
    for mode, by_split in predictions.items():
        table[mode] = {}
        for split, (probabilities, labels, _) in by_split.items():
            known = labels >= 0
            if not known.any():
                continue
            probs = [p[known] for p in probabilities]
            if mode in ensembles:
                ensemble, summary = ensembles[mode]
                scores = compare_weightings(
                    probs, labels[known], ensemble.weights_, model_names=names
                )
                row = {**scores["models"]}
                row["equal_weights"] = scores["equal_weights"]
                row["learned_weights"] = scores["learned_weights"]
                row["learned_weights_cv"] = (
                    summary["cross_validation"]["learned_weights"]["mean"]
                    if split == "PublicTest"
                    else None
                )
            else:
                row = {
                    n: float(np.mean(p.argmax(1) == labels[known]))
                    for n, p in zip(names, probs, strict=True)
                }
            table[mode][split] = row
    return table


def _per_class(names, predictions, ensembles) -> dict:
    """``{mode: {split: {model: {label: {precision, recall, f1, support}}}}}``."""
    found: dict = {}
    for mode, by_split in predictions.items():
        found[mode] = {}
        for split, (probabilities, labels, _) in by_split.items():
            if not (labels >= 0).any():
                continue
            models = dict(zip(names, probabilities, strict=True))
            if mode in ensembles:
                models["ensemble"] = ensembles[mode][0].predict_proba(probabilities)
            found[mode][split] = {}
            for name, probs in models.items():
                evaluation = evaluate_predictions(probs, labels)
                found[mode][split][name] = {
                    "accuracy": evaluation.accuracy,
                    "confusion": evaluation.confusion.tolist(),
                    "classes": {
                        label: {
                            "precision": evaluation.report[label]["precision"],
                            "recall": evaluation.report[label]["recall"],
                            "f1": evaluation.report[label]["f1-score"],
                            "support": int(evaluation.report[label]["support"]),
                        }
                        for label in LABELS
                    },
                }
    return found


def _history_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def _plot_curves(out: Path, names: list[str], path: Path) -> Path | None:
    """Validation accuracy and loss of every variant by epoch, in one figure."""
    histories = {n: _history_rows(out / "models" / n / "history.csv") for n in names}
    if not any(histories.values()):
        return None
    figure = new_figure((10, 4), dpi=100)
    axes = figure.subplots(1, 2)
    for name, rows in histories.items():
        epochs = [int(r["epoch"]) for r in rows]
        for axis, key in zip(axes, ("val_accuracy", "val_loss"), strict=True):
            values = [float(r[key]) if r.get(key) else np.nan for r in rows]
            axis.plot(epochs, values, marker="o", markersize=3, label=name)
    for axis, key in zip(axes, ("PublicTest accuracy", "PublicTest loss"), strict=True):
        axis.set_xlabel("epoch")
        axis.set_title(key)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    return save_figure(figure, path)


def write_tables(
    out: Path,
    names: list[str],
    predictions: dict,
    ensembles: dict,
    costs: list[dict[str, Any]],
    *,
    environment: dict[str, Any],
    settings: dict[str, Any],
) -> dict[str, Any]:
    """Write tables, per-class figures, costs, figures and ``report.md``; return the tables."""
    accuracy = _accuracy(names, predictions, ensembles)
    weights = {
        mode: dict(zip(names, map(float, ensemble.weights_), strict=True))
        for mode, (ensemble, _) in ensembles.items()
    }
    tables = {
        "settings": settings,
        "environment": environment,
        "models": names,
        "table1_weights": {"ours": weights, "paper": PAPER_WEIGHTS},
        "table2_accuracy": {
            "ours": accuracy,
            "paper": PAPER_ACCURACY,
            "paper_split": "PrivateTest",
            "note": (
                "Weights are learned on PublicTest, so learned weights scored on PublicTest "
                "are optimistic; the cross-validated row is the honest PublicTest figure. "
                "The paper's figures are on its test split (PrivateTest)."
            ),
        },
    }
    per_class = _per_class(names, predictions, ensembles)
    atomic_write_text(out / "tables.json", json.dumps(tables, indent=2) + "\n")
    atomic_write_text(out / "per_class.json", json.dumps(per_class, indent=2) + "\n")
    atomic_write_text(
        out / "costs.json",
        json.dumps({"stages": costs, "environment": environment}, indent=2) + "\n",
    )

    figures = out / "figures"
    drawn = []
    for split, models in per_class.get(MAIN_MODE, {}).items():
        for name, figures_of in models.items():
            drawn.append(
                plot_confusion_matrix(
                    np.array(figures_of["confusion"]),
                    figures / f"confusion_{split}_{name}.png",
                    title=f"{name}, {split}",
                )
            )
    curves = _plot_curves(out, names, figures / "curves.png")

    table_lines = _table_lines(names, tables, accuracy)
    cost_lines = _cost_lines(costs, environment)
    class_lines = _per_class_lines(per_class)
    atomic_write_text(out / "tables.md", "\n".join(table_lines) + "\n")
    atomic_write_text(out / "costs.md", "\n".join(cost_lines) + "\n")
    atomic_write_text(out / "per_class.md", "\n".join(class_lines) + "\n")
    links = [f"- [{p.name}](figures/{p.name})" for p in drawn]
    if curves is not None:
        links.append(
            f"- [training curves](figures/{curves.name}); each run's own: "
            + ", ".join(f"[{n}](models/{n}/history.png)" for n in names)
        )
    report = [
        "# EmoNet reproduction",
        "",
        f"Scale {settings['scale']}, {settings['epochs']} epochs, batch {settings['batch_size']}, "
        f"weights {settings['weights'] or 'from scratch'}, source `{settings['source']}`.",
        "",
        *table_lines[1:],
        "",
        "## Costs",
        *cost_lines[1:],
        "",
        "## Per class",
        "",
        "Precision, recall and F1 of each model and the ensemble: [per_class.md](per_class.md).",
        "",
        "## Figures",
        "",
        *links,
    ]
    atomic_write_text(out / "report.md", "\n".join(report) + "\n")
    return tables


def _table_lines(names: list[str], tables: dict, accuracy: dict) -> list[str]:
    lines = ["# Tables", "", "## Table 1: ensemble weights (learned on PublicTest)", ""]
    modes = list(tables["table1_weights"]["ours"])
    if modes:
        header = ["model", *(f"ours, {m}" for m in modes), "paper"]
        rows = [
            [ROW_NAMES[n], *(f"{tables['table1_weights']['ours'][m][n]:.4f}" for m in modes),
             f"{PAPER_WEIGHTS[n]:.4f}"]
            for n in names
        ]  # fmt: skip
        lines += _table(header, rows)
    else:
        lines.append("No ensemble: fewer than two variants are finished.")
    lines += ["", "## Table 2: accuracy", ""]
    columns = [(mode, split) for mode in accuracy for split in accuracy[mode]]
    header = ["model", *(f"{split}, {mode}" for mode, split in columns), "paper (test)"]
    rows = []
    for row in [*names, *ENSEMBLE_ROWS]:
        if row in ENSEMBLE_ROWS and not tables["table1_weights"]["ours"]:
            continue
        cells = [_percent(accuracy[mode][split].get(row)) for mode, split in columns]
        rows.append([ROW_NAMES[row], *cells, _percent(PAPER_ACCURACY.get(row))])
    lines += _table(header, rows)
    lines += [
        "",
        "*plain*: one pass; *flip*: the mean of the face's and its mirror image's "
        "probabilities. " + tables["table2_accuracy"]["note"],
    ]
    return lines


def _cost_lines(costs: list[dict[str, Any]], environment: dict[str, Any]) -> list[str]:
    lines = ["# Costs", ""]
    rows = [
        [
            c["stage"],
            f"{c['seconds']:.1f}",
            "" if c["faces"] is None else str(c["faces"]),
            "" if c["faces_per_s"] is None else f"{c['faces_per_s']:.1f}",
            c["note"],
        ]
        for c in costs
    ]
    lines += _table(["stage", "seconds", "faces", "faces/s", "note"], rows)
    lines += [
        "",
        f"Backend {environment['keras_backend']} (Keras {environment['keras_version']}), "
        f"{environment['replicas']} replica(s) ({environment['strategy']}) on "
        f"{', '.join(environment['devices'])}; precision {environment['precision']}, "
        f"jit_compile {environment['jit_compile']}, {environment['cpu_count']} CPU cores. "
        "Training seconds are the runs' own (all sessions of a resumed run); a training "
        "face is one face of one epoch.",
    ]
    return lines


def _per_class_lines(per_class: dict) -> list[str]:
    lines = [
        "# Per class",
        "",
        f"Precision, recall and F1 ({MAIN_MODE} predictions; per_class.json has both modes).",
    ]
    for split, models in per_class.get(MAIN_MODE, {}).items():
        for name, figures in models.items():
            lines += ["", f"## {name}, {split} (accuracy {_percent(figures['accuracy'])})", ""]
            rows = [
                [label, f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}",
                 str(c["support"])]
                for label, c in figures["classes"].items()
            ]  # fmt: skip
            lines += _table(["label", "precision", "recall", "F1", "faces"], rows)
    return lines
