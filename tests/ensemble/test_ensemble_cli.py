"""emonet-fit-ensemble: round trip, report, and one clear line for every bad input."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emonet.cli.fit_ensemble import main
from emonet.ensemble import REPORT_FILES, WeightedEnsemble
from emonet.predictions import Predictions, load_predictions, save_predictions

FAST = ["--maxiter", "20", "--cv-folds", "3"]
PREFIX = "emonet-fit-ensemble: error: "


def _status(argv: list) -> int:
    """main's exit status, whether it returns it or exits through argparse."""
    try:
        return main([str(arg) for arg in argv])
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1


def _run(argv: list, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = _status(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_round_trip(prediction_files, tmp_path: Path, capsys) -> None:
    output = tmp_path / "out" / "ensemble.json"
    status, out, err = _run(
        [*prediction_files["val"], "-o", output, "--test", *prediction_files["test"], *FAST],
        capsys,
    )
    assert status == 0, err
    assert err == ""
    assert "<- quote this" in out

    data = json.loads(output.read_text())
    assert data["objective"] == "accuracy"
    assert data["random_state"] == 0
    names = [model["name"] for model in data["models"]]
    assert names == ["upper", "middle", "lower", "useless"]
    assert sum(model["weight"] for model in data["models"]) == pytest.approx(1.0)
    validation = data["validation"]
    assert validation["files"] == [str(p) for p in prediction_files["val"]]
    assert validation["n_samples"] == 150
    assert len(validation["cross_validation"]["learned_weights"]["scores"]) == 3
    assert {"temperature", "ece_before", "ece_after"} <= validation["calibration"].keys()

    # the JSON is a loadable ensemble giving the same predictions
    ensemble = WeightedEnsemble.load(output)
    val = [load_predictions(p).probabilities for p in prediction_files["val"]]
    labels = load_predictions(prediction_files["val"][0]).labels
    assert ensemble.score(val, labels) == pytest.approx(validation["accuracy"]["learned_weights"])

    report = tmp_path / "out" / "ensemble_report"
    assert data["test"]["report"] == str(report / "report.md")
    assert {p.name for p in report.iterdir()} == {
        "report.md",
        "report.json",
        "confusion_matrix.png",
        "outliers.csv",
    }
    assert "## Accuracy (the paper's Table 2)" in (report / "report.md").read_text()


def test_same_seed_gives_the_same_weights(prediction_files, tmp_path: Path, capsys) -> None:
    weights = []
    for name in ("a", "b"):
        output = tmp_path / f"{name}.json"
        argv = [*prediction_files["val"], "-o", output, "--seed", "7", "-q", *FAST]
        assert _run(argv, capsys) == (0, "", "")
        weights.append([m["weight"] for m in json.loads(output.read_text())["models"]])
    assert weights[0] == weights[1]


def test_unlabelled_test_files_are_reported_as_such(prediction_files, tmp_path: Path, capsys):
    report = tmp_path / "mine"
    argv = [*prediction_files["val"], "-o", tmp_path / "e.json", "--report-dir", report, *FAST]
    status, _, err = _run([*argv, "--test", *prediction_files["unlabelled"], "-q"], capsys)
    assert status == 0, err
    assert "carry no labels" in (report / "report.md").read_text()
    assert not (report / "confusion_matrix.png").exists()


def test_log_loss_objective(prediction_files, tmp_path: Path, capsys) -> None:
    output = tmp_path / "e.json"
    argv = [*prediction_files["val"], "-o", output, "--objective", "log_loss", "-q", *FAST]
    assert _run(argv, capsys)[0] == 0
    assert json.loads(output.read_text())["objective"] == "log_loss"


def _rewrite(path: Path, folder: str, **changes) -> Path:
    """Save a copy of a prediction file with some fields changed, in a sibling folder."""
    original = load_predictions(path)
    fields = {
        "probabilities": original.probabilities,
        "labels": original.labels,
        "ids": original.ids,
        "model_name": original.model_name,
        **changes,
    }
    return Predictions(**fields).save(path.parent.parent / folder / path.name)


def _bad_inputs(files: dict[str, list[Path]], tmp_path: Path) -> dict[str, tuple[list, str]]:
    val, test = files["val"], files["test"]
    out = ["-o", tmp_path / "e.json"]
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_text("garbage")
    first = load_predictions(val[0])
    return {
        "missing file": ([tmp_path / "nope.npz", *val[1:], *out], "nope.npz: no such"),
        "corrupt file": ([corrupt, *val[1:], *out], "corrupt.npz: not a readable .npz"),
        "fewer rows": (
            [
                _rewrite(
                    val[0],
                    "fewer",
                    probabilities=first.probabilities[:100],
                    labels=first.labels[:100],
                    ids=first.ids[:100],
                ),
                *val[1:],
                *out,
            ],
            "has 150 rows but",
        ),
        "other faces": (
            [*val[:3], _rewrite(val[3], "other", ids=np.char.add(first.ids, "x")), *out],
            "hold different faces",
        ),
        "labels disagree": (
            [*val[:3], _rewrite(val[3], "relabelled", labels=(first.labels + 1) % 7), *out],
            "disagree on the labels of 150 faces",
        ),
        "same model twice": ([val[0], val[0], *out], "are both model 'upper'"),
        "unlabelled validation": (
            [*files["unlabelled"], *out],
            "100 of 100 validation faces have no label",
        ),
        "test count": ([*val, *out, "--test", *test[:3]], "4 validation files but 3 --test"),
        "test order": (
            [*val, *out, "--test", test[1], test[0], *test[2:]],
            "holds model 'middle' but validation file",
        ),
        "output is a folder": ([*val, "-o", tmp_path], "is a folder"),
        "report dir without test": ([*val, *out, "--report-dir", tmp_path], "needs --test"),
        "no output": ([*val], "the following arguments are required: -o/--output"),
        "bad objective": ([*val, *out, "--objective", "f1"], "argument --objective: invalid"),
        "one fold": ([*val, *out, "--cv-folds", "1"], "argument --cv-folds: expected an integer"),
        "negative seed": ([*val, *out, "--seed", "-1"], "argument --seed"),
        "too many folds": ([*val, *out, "--cv-folds", "40"], "--cv-folds 40 is more than the"),
        "output in a file": ([*val, "-o", val[0] / "e.json"], "is a file, not a folder"),
        "report in a file": (
            [*val, *out, "--test", *test, "--report-dir", val[0] / "r"],
            f"--report-dir: {val[0]} is a file, not a folder",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing file",
        "corrupt file",
        "fewer rows",
        "other faces",
        "labels disagree",
        "same model twice",
        "unlabelled validation",
        "test count",
        "test order",
        "output is a folder",
        "report dir without test",
        "no output",
        "bad objective",
        "one fold",
        "negative seed",
        "too many folds",
        "output in a file",
        "report in a file",
    ],
)
def test_bad_input_exits_2_with_one_line(case: str, prediction_files, tmp_path: Path, capsys):
    argv, message = _bad_inputs(prediction_files, tmp_path)[case]
    status, out, err = _run(argv, capsys)
    assert status == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(PREFIX)
    assert message in lines[0]
    assert not (tmp_path / "e.json").exists()


def test_existing_output_is_kept_without_overwrite(prediction_files, tmp_path: Path, capsys):
    output = tmp_path / "e.json"
    output.write_text("an earlier ensemble")
    argv = [*prediction_files["val"], "-o", output, "-q", *FAST]
    status, out, err = _run(argv, capsys)
    assert (status, out) == (2, "")
    assert err == f"{PREFIX}{output} exists; pass --overwrite to replace it\n"
    assert output.read_text() == "an earlier ensemble"

    assert _run([*argv, "--overwrite"], capsys) == (0, "", "")
    assert WeightedEnsemble.load(output).n_models_ == 4


def test_existing_report_is_kept_without_overwrite(prediction_files, tmp_path: Path, capsys):
    report = tmp_path / "e_report"
    report.mkdir()
    for name in REPORT_FILES:
        (report / name).write_text("earlier")
    (report / "notes.txt").write_text("mine")
    argv = [*prediction_files["val"], "-o", tmp_path / "e.json", "-q", *FAST]
    argv += ["--test", *prediction_files["test"]]
    status, _, err = _run(argv, capsys)
    assert status == 2
    assert err.startswith(f"{PREFIX}{report / REPORT_FILES[0]} and 3 more output files exist")
    assert not (tmp_path / "e.json").exists()
    assert {p.read_text() for p in report.iterdir()} == {"earlier", "mine"}

    assert _run([*argv, "--overwrite"], capsys) == (0, "", "")
    assert (report / "report.md").read_text().startswith("# Ensemble report")
    assert (report / "notes.txt").read_text() == "mine"


@settings(max_examples=30)
@given(st.binary(max_size=1024))
def test_fuzz_any_prediction_file_bytes_exit_2_with_one_line(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        bad = Path(folder) / "bad.npz"
        bad.write_bytes(data)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()) as out:
            status = _status([bad, bad, "-o", Path(folder) / "e.json"])
    assert (status, out.getvalue()) == (2, "")
    assert err.getvalue().startswith(f"{PREFIX}{bad}: not a readable .npz prediction file (")
    assert err.getvalue().count("\n") == 1


def test_help_exits_0(capsys) -> None:
    status, out, _ = _run(["--help"], capsys)
    assert status == 0
    assert "VAL_PREDS.npz" in out


def test_module_entry_point(prediction_files, tmp_path: Path) -> None:
    output = tmp_path / "e.json"
    command = [sys.executable, "-m", "emonet.cli.fit_ensemble"]
    ok = subprocess.run(
        [*command, *map(str, prediction_files["val"]), "-o", str(output), "-q", *FAST],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert WeightedEnsemble.load(output).n_models_ == 4

    bad = tmp_path / "bad.npz"
    save_predictions(bad, np.full((3, 7), 1 / 7))
    failed = subprocess.run(
        [*command, str(bad), str(prediction_files["val"][0]), "-o", str(output)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode == 2
    assert failed.stderr.count("\n") == 1
    assert failed.stderr.startswith(PREFIX)
    assert "Traceback" not in failed.stderr
