"""compare_weightings, summarize_validation and save_report."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import emonet.ensemble
from emonet import LABELS
from emonet.ensemble import (
    REPORT_FILES,
    StackingEnsemble,
    TemperatureScaler,
    WeightedEnsemble,
    compare_weightings,
    save_report,
    summarize_validation,
)
from tests.ensemble.ensemble_synthetic import make_designed_case

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def split():
    """A fitted ensemble, stacking and scaler on 300 validation faces, and 200 test faces."""
    probabilities, y = make_designed_case(500, seed=5)
    val = [p[:300] for p in probabilities]
    test = [p[300:] for p in probabilities]
    names = ["upper", "middle", "lower", "useless"]
    ensemble = WeightedEnsemble(maxiter=30, random_state=0).fit(val, y[:300], model_names=names)
    return {
        "ensemble": ensemble,
        "val": (val, y[:300]),
        "test": (test, y[300:]),
        "stacking": StackingEnsemble().fit(val, y[:300]),
        "calibrator": TemperatureScaler().fit(ensemble.predict_proba(val), y[:300]),
    }


def test_compare_weightings_accuracy_and_log_loss() -> None:
    y = np.array([0, 1, 1])
    a = np.array([[0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])  # 1 of 3 right
    b = np.array([[0.4, 0.6], [0.2, 0.8], [0.2, 0.8]])  # 2 of 3 right
    table = compare_weightings([a, b], y, [0.9, 0.1], model_names=["a", "b"])
    assert table["models"] == {"a": pytest.approx(1 / 3), "b": pytest.approx(2 / 3)}
    assert table["best_single_model"] == "b"
    assert table["equal_weights"] == pytest.approx(1.0)  # averages 0.65, 0.4, 0.4 on class 0
    assert table["learned_weights"] == pytest.approx(1 / 3)  # mostly a
    losses = compare_weightings([a, b], y, [0.5, 0.5], model_names=["a", "b"], metric="log_loss")
    expected_a = -np.mean(np.log([0.9, 0.4, 0.4]))
    assert losses["models"]["a"] == pytest.approx(expected_a)
    assert losses["best_single_model"] == "b"  # lower is better
    assert losses["best_single"] == min(losses["models"].values())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "f1"}, "metric must be one of"),
        ({"weights": [1.0]}, r"weights has shape \(1,\); expected \(2,\)"),
        ({"model_names": ["a"]}, "got 1 model_names for 2 models"),
    ],
)
def test_compare_weightings_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    proba = np.full((2, 2), 0.5)
    arguments = {"weights": [0.5, 0.5], **kwargs}
    with pytest.raises(ValueError, match=message):
        compare_weightings([proba, proba], [0, 1], **arguments)


def test_summarize_validation(split) -> None:
    val, y = split["val"]
    summary = summarize_validation(split["ensemble"], val, y, n_splits=3, random_state=0)
    json.dumps(summary, allow_nan=False)  # JSON-ready
    assert summary["n_samples"] == 300
    assert summary["accuracy"]["learned_weights"] > summary["accuracy"]["equal_weights"]
    assert summary["log_loss"]["models"].keys() == {"upper", "middle", "lower", "useless"}
    cv = summary["cross_validation"]
    assert cv["n_splits"] == 3
    for key in ("learned_weights", "stacking"):
        assert len(cv[key]["scores"]) == 3
        assert cv[key]["mean"] == pytest.approx(np.mean(cv[key]["scores"]))
    # fit and scored on the same faces is optimistic
    assert cv["learned_weights"]["mean"] <= summary["accuracy"]["learned_weights"] + 0.01
    calibration = summary["calibration"]
    assert calibration["ece_after"] < calibration["ece_before"]
    assert calibration["temperature"] == pytest.approx(split["calibrator"].temperature_)


def test_report_with_labels(split, tmp_path: Path) -> None:
    test, y = split["test"]
    ids = np.array([f"PrivateTest_{i}" for i in range(200)])
    summary = summarize_validation(split["ensemble"], *split["val"], n_splits=3, random_state=0)
    written = save_report(
        tmp_path / "report",
        split["ensemble"],
        test,
        y,
        ids=ids,
        stacking=split["stacking"],
        calibrator=split["calibrator"],
        validation=summary,
    )
    assert set(written) == {"report", "json", "confusion_matrix", "outliers"}
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == [
        "confusion_matrix.png",
        "outliers.csv",
        "report.json",
        "report.md",
    ]
    assert written["confusion_matrix"].read_bytes().startswith(PNG_SIGNATURE)

    figures = json.loads(written["json"].read_text())
    accuracy = compare_weightings(test, y, split["ensemble"].weights_, model_names=None)
    assert figures["accuracy"]["learned_weights"] == pytest.approx(accuracy["learned_weights"])
    assert figures["per_class"].keys() == set(LABELS)
    assert sum(row["support"] for row in figures["per_class"].values()) == 200
    assert np.sum(figures["confusion_matrix"]) == 200
    assert figures["calibration"]["ece_after_temperature"] < figures["calibration"]["ece"]

    # outliers: exactly the faces whose true label is outside the ensemble's top 3
    proba = split["ensemble"].predict_proba(test)
    top3 = np.argsort(-proba, axis=1)[:, :3]
    expected = {ids[i] for i in range(200) if y[i] not in top3[i]}
    with written["outliers"].open() as handle:
        rows = list(csv.DictReader(handle))
    assert {row["id"] for row in rows} == expected
    assert figures["n_outliers"] == len(expected) > 0
    assert list(rows[0]) == [
        "id",
        "true_label",
        "true_label_probability",
        "top1_label",
        "top1_probability",
        "top2_label",
        "top2_probability",
        "top3_label",
        "top3_probability",
    ]
    probabilities = [float(row["true_label_probability"]) for row in rows]
    assert probabilities == sorted(probabilities)
    assert rows[0]["true_label"] in LABELS

    text = written["report"].read_text()
    for heading in (
        "## Accuracy (the paper's Table 2)",
        "| Equal weights |",
        "**Learned weights**",
        "Stacking (logistic regression)",
        "Cross-validated (3 folds)",
        "## Per-class precision, recall and F1",
        "## Calibration",
        "![Confusion matrix](confusion_matrix.png)",
        "## Outliers: true label not in the top 3",
    ):
        assert heading in text
    assert "| useless | 0.0" in text


def test_report_without_labels_says_so(split, tmp_path: Path) -> None:
    test, _ = split["test"]
    (tmp_path / "confusion_matrix.png").write_bytes(b"from an earlier labelled run")
    written = save_report(tmp_path, split["ensemble"], test, np.full(200, -1))
    assert set(written) == {"report", "json"}
    text = written["report"].read_text()
    assert "The test files carry no labels (every label is -1)" in text
    assert "## Predicted labels" in text
    figures = json.loads(written["json"].read_text())
    assert figures["n_labelled"] == 0
    assert sum(figures["predicted_counts"].values()) == 200
    assert not (tmp_path / "confusion_matrix.png").exists()


def test_undefined_per_class_scores_are_not_zero(split, tmp_path: Path) -> None:
    test, y = split["test"]
    partial = np.where(y == 1, -1, y)  # no disgust faces left
    written = save_report(tmp_path, split["ensemble"], test, partial)
    disgust = json.loads(written["json"].read_text())["per_class"]["disgust"]
    assert disgust["support"] == 0
    assert disgust["recall"] is None  # no disgust face to find
    # precision and F1 (2 TP / (2 TP + FP + FN)) rest on the faces predicted disgust: all
    # wrong (0) if there are some, undefined if there are none
    predicted = split["ensemble"].predict(test)[partial != -1]
    expected = 0.0 if np.any(predicted == 1) else None
    assert disgust["precision"] == expected and disgust["f1"] == expected
    row = next(r for r in written["report"].read_text().splitlines() if r.startswith("| disgust"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    shown = "-" if expected is None else "0.000"
    assert cells == ["disgust", shown, "-", shown, "0"]


def test_report_with_some_labels_uses_those(split, tmp_path: Path) -> None:
    test, y = split["test"]
    partial = np.where(np.arange(200) < 50, y, -1)
    written = save_report(tmp_path, split["ensemble"], test, partial)
    assert "Only 50 of the 200 faces have labels" in written["report"].read_text()
    figures = json.loads(written["json"].read_text())
    assert np.sum(figures["confusion_matrix"]) == 50


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels": np.zeros(5, dtype=int)}, "labels must be 200 integer label indices"),
        ({"ids": ["a"]}, r"ids has shape \(1,\)"),
        ({"top_k": 0}, "top_k must be between 1 and 7"),
    ],
)
def test_report_rejects_bad_arguments(split, tmp_path: Path, kwargs: dict, message: str) -> None:
    test, y = split["test"]
    arguments = {"labels": y, **kwargs}
    labels = arguments.pop("labels")
    with pytest.raises(ValueError, match=message):
        save_report(tmp_path, split["ensemble"], test, labels, **arguments)


def test_report_rejects_an_unfitted_ensemble(split, tmp_path: Path) -> None:
    test, y = split["test"]
    with pytest.raises(NotFittedError):
        save_report(tmp_path, WeightedEnsemble(), test, y)
    assert list(tmp_path.iterdir()) == []


def test_report_files_are_the_files_written(split, tmp_path: Path) -> None:
    test, y = split["test"]
    written = save_report(tmp_path, split["ensemble"], test, y)
    assert sorted(p.name for p in written.values()) == sorted(REPORT_FILES)


def test_the_ensemble_draws_without_pyplot() -> None:
    # pyplot and matplotlib.use change the user's global figure state and backend;
    # emonet._plotting draws on a Figure of its own
    package = Path(emonet.ensemble.__file__).parent
    for source in package.glob("*.py"):
        text = source.read_text()
        assert not re.search(r"pyplot|matplotlib\.use\(", text), source
