"""The prediction-file format shared by model evaluation and the ensemble."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from emonet import NUM_CLASSES
from emonet.predictions import (
    UNKNOWN_LABEL,
    Predictions,
    load_predictions,
    save_predictions,
)


def _probabilities(n_samples: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(NUM_CLASSES), size=n_samples)


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    proba = _probabilities()
    path = save_predictions(
        tmp_path / "val.npz", proba, [0, 1, 6, -1, 3], ["a", "b", "c", "d", "e"], model_name="m"
    )
    loaded = load_predictions(path)
    assert path == tmp_path / "val.npz"
    assert loaded.probabilities.dtype == np.float32
    np.testing.assert_allclose(loaded.probabilities, proba, rtol=1e-6)
    assert loaded.labels.dtype == np.int64
    assert loaded.labels.tolist() == [0, 1, 6, -1, 3]
    assert loaded.ids.tolist() == ["a", "b", "c", "d", "e"]
    assert loaded.model_name == "m"
    assert loaded.n_samples == 5
    assert not loaded.has_labels


def test_defaults_are_unknown_labels_row_ids_and_file_stem(tmp_path: Path) -> None:
    loaded = load_predictions(save_predictions(tmp_path / "val_resnet.npz", _probabilities(3)))
    assert loaded.labels.tolist() == [UNKNOWN_LABEL] * 3
    assert loaded.ids.tolist() == ["0", "1", "2"]
    assert loaded.model_name == "val_resnet"


def test_foreign_npz_with_only_probabilities_loads(tmp_path: Path) -> None:
    np.savez(tmp_path / "other.npz", probabilities=_probabilities(2), ids=np.array([7, 9]))
    loaded = load_predictions(tmp_path / "other.npz")
    assert loaded.model_name == "other"
    assert loaded.ids.tolist() == ["7", "9"]


def test_save_method_creates_folders_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = Predictions(_probabilities(), model_name="m").save(tmp_path / "a" / "b" / "p.npz")
    assert sorted(p.name for p in path.parent.iterdir()) == ["p.npz"]


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_predictions(tmp_path / "p.npz", _probabilities(), model_name="old")

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(OSError, match="disk full"):
        save_predictions(path, _probabilities(), model_name="new")
    assert load_predictions(path).model_name == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["p.npz"]


def test_has_labels_when_every_label_is_known() -> None:
    assert Predictions(_probabilities(2), labels=[0, 6]).has_labels


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"probabilities": np.ones((3, 5)) / 5}, r"shape \(3, 5\); expected \(N, 7\)"),
        ({"probabilities": np.ones(7) / 7}, r"expected \(N, 7\)"),
        ({"probabilities": np.ones((0, 7))}, "no rows"),
        ({"probabilities": np.full((3, 7), np.nan)}, "NaN or infinity"),
        ({"probabilities": np.eye(7)[:3] * 2 - 0.5}, "negative values"),
        ({"probabilities": np.ones((3, 7)) / 5}, "row 0 sums to 1.4"),
        ({"probabilities": np.array([["a"] * 7] * 3)}, "must be numeric"),
        ({"labels": [0, 1, 7]}, r"holds 7 at row 2; expected label indices 0..6"),
        ({"labels": [0, -2, 1]}, "holds -2"),
        ({"labels": [0.0, 1.0, 2.0]}, "must be integers"),
        ({"labels": [0, 1]}, r"shape \(2,\); expected \(3,\)"),
        ({"ids": ["a", "b"]}, "expected 3 strings"),
        ({"ids": ["a", "b", "a"]}, r"not unique \(1 repeated, e.g. 'a'\)"),
        ({"ids": [1.5, 2.5, 3.5]}, "expected 3 strings"),
        ({"model_name": ""}, "model_name must be a non-empty"),
        ({"model_name": "two\nlines"}, "one-line"),
    ],
)
def test_invalid_predictions_are_rejected(change: dict, message: str, tmp_path: Path) -> None:
    arguments = {
        "probabilities": _probabilities(3),
        "labels": [0, 1, 2],
        "ids": ["a", "b", "c"],
        "model_name": "m",
    }
    arguments.update(change)
    with pytest.raises(ValueError, match=message):
        Predictions(**arguments)
    # the same problem in a file names the file
    path = tmp_path / "bad.npz"
    arrays = {key: np.asarray(value) for key, value in arguments.items()}
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: .*{message}"):
        load_predictions(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing.npz: no such prediction file"):
        load_predictions(tmp_path / "missing.npz")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a file"):
        load_predictions(tmp_path)


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: p.write_text("not numpy"), "not a readable .npz prediction file"),
        (lambda p: p.write_bytes(b""), "not a readable .npz prediction file"),
        (lambda p: np.save(p.with_suffix(".npy"), np.ones(3)), "single .npy array"),
        (
            lambda p: np.savez(p, probabilities=np.array([{"a": 1}], dtype=object)),
            "not a readable .npz prediction file",
        ),
        (lambda p: np.savez(p, probs=np.ones((2, 7)) / 7), "has no 'probabilities' array"),
        (
            lambda p: np.savez(p, probabilities=np.ones((2, 7)) / 7, model_name=np.ones(2)),
            "'model_name' must be a single string",
        ),
    ],
)
def test_unreadable_files_are_rejected(write, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    write(path)
    if not path.exists():  # np.save wrote bad.npy
        path.with_suffix(".npy").rename(path)
    with pytest.raises(ValueError, match=message) as error:
        load_predictions(path)
    assert str(error.value).startswith(f"{path}: ")
