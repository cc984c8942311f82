"""extract_to_file in this process (jobs=1): resumes that check their input, damaged
parts, photos, FER2013 layouts. Killed runs and worker processes: test_extract_features_cli.py."""

import os
import shutil

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from emonet import LABELS
from emonet.data import DataError
from emonet.features import FeatureExtractor, _pipeline, extract_to_file, load_features
from tests.conftest import write_fer2013_csv


def _extract(source, out, **kwargs):
    return extract_to_file(source, out, jobs=1, progress=False, **kwargs)


@pytest.fixture
def folder(tmp_path, val_files):
    """A <label>/<image> folder of 28 real faces."""
    root = tmp_path / "faces"
    for path, label in val_files[::10]:
        (root / LABELS[label]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, root / LABELS[label] / path.name)
    return root


def _interrupt(monkeypatch, source, out, chunks_kept, **kwargs):
    """Run until ``chunks_kept`` chunks are done, then stop as Ctrl-C would."""
    extract_chunk = _pipeline._extract_chunk

    def stop_at(index, *args):
        if index == chunks_kept:
            raise KeyboardInterrupt
        return extract_chunk(index, *args)

    with monkeypatch.context() as patch:
        patch.setattr(_pipeline, "_extract_chunk", stop_at)
        with pytest.raises(KeyboardInterrupt):
            _extract(source, out, **kwargs)
    parts = out.with_name(out.name + ".parts")
    assert len(list(parts.glob("chunk_*.npz"))) == chunks_kept
    # an interrupted run keeps its parts, and leaves no output or temporary file
    names = [p.name for p in out.parent.iterdir()]
    assert [n for n in names if n == out.name or n.startswith(f".{out.name}.")] == []
    return parts


def test_resume_of_an_unchanged_folder_equals_a_straight_run(monkeypatch, tmp_path, folder):
    straight = _extract(folder, tmp_path / "straight.h5", chunk_size=5)
    parts = _interrupt(monkeypatch, folder, tmp_path / "out.h5", 3, chunk_size=5)
    report = _extract(folder, tmp_path / "out.h5", chunk_size=5, resume=True)
    assert report.resumed_chunks == 3 and report.n_faces == straight.n_faces == 28
    a, b = load_features(tmp_path / "out.h5"), load_features(tmp_path / "straight.h5")
    np.testing.assert_array_equal(a.features, b.features)
    assert a.ids.tolist() == b.ids.tolist()
    assert not parts.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda root: shutil.copy(
                root / "happy" / os.listdir(root / "happy")[0], root / "happy" / "new.jpg"
            ),
            "1 file(s) added (happy/new.jpg)",
        ),
        (
            lambda root: (root / "sad" / sorted(os.listdir(root / "sad"))[0]).unlink(),
            "1 file(s) removed (sad/",
        ),
        (
            lambda root: (root / "fear" / sorted(os.listdir(root / "fear"))[0]).write_bytes(b"x"),
            "1 file(s) modified (fear/",
        ),
    ],
    ids=["added", "removed", "modified"],
)
def test_resume_refuses_a_changed_folder_naming_the_change(
    monkeypatch, tmp_path, folder, change, message
):
    _interrupt(monkeypatch, folder, tmp_path / "out.h5", 2, chunk_size=5)
    change(folder)
    with pytest.raises(DataError, match="changed since the interrupted run") as error:
        _extract(folder, tmp_path / "out.h5", chunk_size=5, resume=True)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_resume_refuses_a_changed_csv(monkeypatch, tmp_path, val_faces):
    images, labels = val_faces[0][:30], val_faces[1][:30]
    source = write_fer2013_csv(tmp_path / "f.csv", images, labels, ["Training"] * 30)
    _interrupt(monkeypatch, source, tmp_path / "out.h5", 2, chunk_size=10)
    write_fer2013_csv(source, images[::-1], labels[::-1], ["Training"] * 30)  # same size
    with pytest.raises(DataError, match="its content differs"):
        _extract(source, tmp_path / "out.h5", chunk_size=10, resume=True)
    write_fer2013_csv(source, images[:20], labels[:20], ["Training"] * 20)
    with pytest.raises(DataError, match="its size went from"):
        _extract(source, tmp_path / "out.h5", chunk_size=10, resume=True)


def test_resume_refuses_other_settings_naming_them(monkeypatch, tmp_path, folder):
    _interrupt(monkeypatch, folder, tmp_path / "out.h5", 2, chunk_size=5)
    with pytest.raises(DataError, match="chunk_size 5 -> 7"):
        _extract(folder, tmp_path / "out.h5", chunk_size=7, resume=True)


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 not a zip", "another chunk"])
def test_a_damaged_part_is_redone(monkeypatch, tmp_path, folder, damage):
    _extract(folder, tmp_path / "straight.h5", chunk_size=5)
    parts = _interrupt(monkeypatch, folder, tmp_path / "out.h5", 4, chunk_size=5)
    if damage == "another chunk":
        shutil.copy(parts / "chunk_000000.npz", parts / "chunk_000002.npz")
    else:
        (parts / "chunk_000002.npz").write_bytes(damage)
    report = _extract(folder, tmp_path / "out.h5", chunk_size=5, resume=True)
    assert (report.resumed_chunks, report.redone_chunks) == (3, 1)
    a, b = load_features(tmp_path / "out.h5"), load_features(tmp_path / "straight.h5")
    np.testing.assert_array_equal(a.features, b.features)
    assert a.ids.tolist() == b.ids.tolist()


def test_temporaries_of_a_killed_run_are_removed_on_resume(monkeypatch, tmp_path, folder):
    parts = _interrupt(monkeypatch, folder, tmp_path / "out.h5", 2, chunk_size=5)
    stale = [tmp_path / ".out.h5.0123abcd.tmp", parts / ".chunk_000003.npz.89abcdef.tmp"]
    for path in stale:
        path.write_bytes(b"half")
    _extract(folder, tmp_path / "out.h5", chunk_size=5, resume=True)
    assert not any(path.exists() for path in stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faces", "out.h5"]


def test_photos_with_detect_faces(tmp_path):
    (tmp_path / "photos" / "happy").mkdir(parents=True)
    astronaut = np.ascontiguousarray(skdata.astronaut()[:, :, ::-1])
    cv2.imwrite(str(tmp_path / "photos" / "happy" / "astronaut.png"), astronaut)
    cv2.imwrite(str(tmp_path / "photos" / "happy" / "wall.png"), np.full((200, 200), 90, np.uint8))
    report = _extract(tmp_path / "photos", tmp_path / "out.h5", detect_faces=True)
    loaded = load_features(tmp_path / "out.h5")
    assert loaded.ids.tolist() == ["happy/astronaut.png"]
    assert [os.path.basename(i) for i, _ in report.skipped] == ["wall.png"]
    assert report.skipped[0][1] == "no face found" and loaded.attrs["detect_faces"]
    np.testing.assert_array_equal(loaded.features, FeatureExtractor().transform(loaded.images))
    assert loaded.attrs["detection"] == {
        "detector": "hog",
        "min_score": None,
        "upsample": None,
    }
    # the detection settings are honoured and recorded: nothing scores 5
    none = _extract(tmp_path / "photos", tmp_path / "none.h5", detect_faces=True, min_score=5.0)
    assert none.n_faces == 0 and [reason for _, reason in none.skipped] == ["no face found"] * 2
    assert load_features(tmp_path / "none.h5").attrs["detection"]["min_score"] == 5.0
    with pytest.raises(ValueError, match="detector must name one of"):
        _extract(tmp_path / "photos", tmp_path / "x.h5", detect_faces=True, detector=len)


def test_fer2013_layout_honours_skip_unknown_labels(tmp_path, val_files):
    root = tmp_path / "fer2013"
    for split, prefix in (("train", "Training"), ("val", "PublicTest")):
        for i, (path, label) in enumerate(val_files[::40]):
            (root / split / LABELS[label]).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, root / split / LABELS[label] / f"{prefix}_{i}.jpg")
    (root / "train" / "contempt").mkdir()
    shutil.copy(val_files[0][0], root / "train" / "contempt" / "Training_99.jpg")
    with pytest.raises(DataError, match="unknown label folder 'contempt'"):
        _extract(root, tmp_path / "out.h5")
    report = _extract(root, tmp_path / "out.h5", skip_unknown_labels=True)
    assert report.skipped_label_folders == ["train/contempt"]
    assert report.n_faces == 2 * len(val_files[::40])


def test_fer2013_layout_without_images_writes_nothing(tmp_path):
    for split in ("train", "val"):
        (tmp_path / "fer" / split / "happy").mkdir(parents=True)
    with pytest.raises(DataError, match="no images found in the FER2013 layout"):
        _extract(tmp_path / "fer", tmp_path / "out.h5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fer"]
