"""The prediction-file format shared by model evaluation and the ensemble, and the
scores of predictions."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from emonet import NUM_CLASSES
from emonet.predictions import (
    UNKNOWN_LABEL,
    Evaluation,
    Predictions,
    evaluate_predictions,
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


def test_non_utf8_byte_ids_are_rejected_by_name(tmp_path: Path) -> None:
    path = tmp_path / "bytes.npz"
    np.savez(path, probabilities=_probabilities(2), ids=np.array([b"a", b"\xff"]))
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: 'ids' are bytes but not"):
        load_predictions(path)


def test_utf8_byte_ids_are_read_as_text(tmp_path: Path) -> None:
    np.savez(tmp_path / "b.npz", probabilities=_probabilities(2), ids=np.array([b"a", b"b"]))
    assert load_predictions(tmp_path / "b.npz").ids.tolist() == ["a", "b"]


@pytest.mark.parametrize("version", [np.array(2), np.array([1]), np.array("1"), np.array(1.0)])
def test_other_format_versions_are_refused(version: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "future.npz"
    np.savez(path, probabilities=_probabilities(2), format_version=version)
    with pytest.raises(ValueError, match="format_version .* is not supported; this emonet reads"):
        load_predictions(path)


def test_a_damaged_directory_cannot_hide_the_labels(tmp_path: Path) -> None:
    # zipfile reads the central directory by its size in bytes and ignores the entry count
    # of the end record: one wrong byte in the first entry's name length made it list only
    # 'probabilities', so the file read as unlabelled predictions of model "f"
    path = save_predictions(
        tmp_path / "f.npz", _probabilities(3), [0, 1, 2], ["a", "b", "c"], model_name="m"
    )
    data = bytearray(path.read_bytes())
    directory = data.index(b"PK\x01\x02")  # first central directory entry
    data[directory + 28] ^= 0xFF  # its file name length
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"^.*f\.npz: not a readable .npz prediction file"):
        load_predictions(path)


def test_a_header_declaring_a_huge_array_is_refused_without_allocating(tmp_path: Path) -> None:
    # a valid zip whose .npy header declares 7e12 float64 (56 TB) but holds 56 bytes
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**12, NUM_CLASSES)}
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, header)
    member.write(np.full(NUM_CLASSES, 1 / NUM_CLASSES).tobytes())
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("probabilities.npy", member.getvalue())
    with pytest.raises(ValueError, match=r"huge\.npz: not a readable .npz prediction file"):
        load_predictions(path)


# -- fuzzing: whatever the bytes, checked predictions or one ValueError naming the file --


def _valid_file_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = save_predictions(
            Path(folder) / "p.npz", _probabilities(3), [0, 1, 2], ["a", "b", "c"], model_name="m"
        )
        return path.read_bytes()


VALID_BYTES = _valid_file_bytes()


def _load_bytes(data: bytes) -> tuple[Path, Predictions | ValueError]:
    """Write ``data`` to a file and load it: the predictions, or the ValueError raised."""
    folder = Path(tempfile.mkdtemp())
    path = folder / "fuzz.npz"
    path.write_bytes(data)
    try:
        return path, load_predictions(path)
    except ValueError as error:  # any other exception fails the test
        return path, error
    finally:
        path.unlink()
        folder.rmdir()


def _same(a: Predictions, b: Predictions) -> bool:
    return (
        np.array_equal(a.probabilities, b.probabilities)
        and np.array_equal(a.labels, b.labels)
        and np.array_equal(a.ids, b.ids)
        and a.model_name == b.model_name
    )


@given(st.binary(max_size=2048))
def test_fuzz_any_bytes_fail_with_one_value_error_naming_the_file(data: bytes) -> None:
    path, result = _load_bytes(data)
    assert isinstance(result, ValueError)
    assert str(result).startswith(f"{path}: ")
    assert "\n" not in str(result)


@given(
    st.lists(
        st.tuples(st.integers(0, len(VALID_BYTES) - 1), st.integers(1, 255)),
        min_size=1,
        max_size=4,
    )
)
def test_fuzz_damaged_bytes_never_read_as_other_predictions(flips: list) -> None:
    reference = _load_bytes(VALID_BYTES)[1]
    data = bytearray(VALID_BYTES)
    for position, mask in flips:
        data[position] ^= mask
    path, result = _load_bytes(bytes(data))
    if isinstance(result, ValueError):
        assert str(result).startswith(f"{path}: ")
    else:  # the flip hit a byte no reader uses (a timestamp, a local header's copy)
        assert _same(result, reference)


@given(st.integers(0, len(VALID_BYTES) - 1))
def test_fuzz_a_truncated_file_is_refused(length: int) -> None:
    path, result = _load_bytes(VALID_BYTES[:length])
    assert isinstance(result, ValueError)
    assert str(result).startswith(f"{path}: not a readable .npz prediction file")


_DTYPES = st.sampled_from(
    ["f2", "f4", "f8", "i1", "i4", "i8", "u1", "u8", "?", "c8", "U3", "S3", "M8[s]", "O"]
)


@st.composite
def _arrays(draw: st.DrawFn, rows: int) -> np.ndarray:
    """Arrays of any common dtype and of shapes near (and at) the expected ones."""
    dtype = np.dtype(draw(_DTYPES))
    shape = draw(
        st.sampled_from([(), (rows,), (rows, NUM_CLASSES), (rows + 1, NUM_CLASSES), (rows, 3)])
        | hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=8)
    )
    if dtype.kind == "O":
        return np.array([None] * int(np.prod(shape)), dtype=object).reshape(shape)
    return draw(hnp.arrays(dtype, shape))


@st.composite
def _prediction_arrays(draw: st.DrawFn) -> dict[str, np.ndarray]:
    """Keys of a prediction file, each valid, missing or replaced by an arbitrary array."""
    rows = draw(st.integers(1, 6))
    weights = draw(hnp.arrays(np.float64, (rows, NUM_CLASSES), elements=st.floats(0.01, 1)))
    valid = {
        "probabilities": weights / weights.sum(axis=1, keepdims=True),
        "labels": draw(hnp.arrays(np.int64, rows, elements=st.integers(-1, NUM_CLASSES - 1))),
        "ids": np.array([f"face_{row}" for row in range(rows)]),
        "model_name": np.array("m"),
        "format_version": np.array(1),
    }
    arrays = {}
    for key, value in valid.items():
        choice = draw(st.sampled_from(["valid", "missing", "other"]))
        if choice == "valid":
            arrays[key] = value
        elif choice == "other":
            arrays[key] = draw(_arrays(rows))
    return arrays


@given(_prediction_arrays())
def test_fuzz_arrays_load_checked_or_fail_naming_the_file(arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path, result = _load_bytes(buffer.getvalue())
    if isinstance(result, ValueError):
        assert str(result).startswith(f"{path}: ")
        return
    # loaded: every invariant of the format holds, and the values are the file's
    n_samples = result.n_samples
    assert result.probabilities.dtype == np.float32
    assert result.probabilities.shape == (n_samples, NUM_CLASSES)
    assert np.all(np.isfinite(result.probabilities)) and result.probabilities.min() >= 0
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1, atol=2e-3)
    np.testing.assert_allclose(
        result.probabilities, arrays["probabilities"].astype(np.float32), rtol=1e-6
    )
    assert result.labels.dtype == np.int64 and result.labels.shape == (n_samples,)
    assert np.all((result.labels >= UNKNOWN_LABEL) & (result.labels < NUM_CLASSES))
    if "labels" in arrays:
        np.testing.assert_array_equal(result.labels, arrays["labels"])
    else:
        assert np.all(result.labels == UNKNOWN_LABEL)
    assert result.ids.dtype.kind == "U" and np.unique(result.ids).size == n_samples
    assert result.model_name == (str(arrays["model_name"]) if "model_name" in arrays else "fuzz")


# --- scores ---------------------------------------------------------------------------


def test_evaluation_leaves_out_unknown_labels():
    probabilities = np.eye(7)[[0, 1, 2, 2, 6]]
    labels = np.array([0, 1, 1, -1, 6])
    result = evaluate_predictions(probabilities, labels)
    assert isinstance(result, Evaluation)
    assert result.n_faces == 4 and result.accuracy == pytest.approx(0.75)
    assert result.confusion.shape == (7, 7) and result.confusion.sum() == 4
    assert result.confusion[1, 2] == 1  # a disgusted face taken for fear
    assert result.report["disgust"]["recall"] == pytest.approx(0.5)
    assert "disgust" in result.text and "f1-score" in result.text
    with pytest.raises(ValueError, match="no face has a known label"):
        evaluate_predictions(probabilities, np.full(5, -1))


def test_scoring_a_prediction_file_needs_no_keras(tmp_path: Path) -> None:
    path = save_predictions(tmp_path / "p.npz", np.eye(7)[[0, 3, 3]], labels=[0, 3, 4])
    code = (
        "import sys\n"
        "from emonet.predictions import evaluate_predictions, load_predictions\n"
        f"p = load_predictions({str(path)!r})\n"
        "print(round(evaluate_predictions(p.probabilities, p.labels).accuracy, 3))\n"
        "print('keras' in sys.modules or 'tensorflow' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0.667", "False"]
