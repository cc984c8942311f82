import shutil

import numpy as np
import pytest

from emonet import LABELS
from emonet.data import DataError, input_kind, load_fer2013, load_image_folder
from tests.conftest import write_fer2013_csv


def test_csv_written_from_real_images_reads_back_identically(fer_csv, val_faces):
    images, labels = val_faces
    data = load_fer2013(fer_csv)
    np.testing.assert_array_equal(data.images, images)
    np.testing.assert_array_equal(data.labels, labels)
    assert data.usage.tolist()[:4] == ["Training", "PublicTest", "PrivateTest", "Training"]
    assert data.ids.tolist()[:3] == ["0", "1", "2"]
    assert data.images.dtype == np.uint8 and data.labels.dtype == np.int64


def test_usage_selection(fer_csv):
    val = load_fer2013(fer_csv, usage="PublicTest")
    assert set(val.usage) == {"PublicTest"} and len(val) > 50
    assert len(load_fer2013(fer_csv).select(["Training", "PrivateTest"])) == (
        len(load_fer2013(fer_csv)) - len(val)
    )
    with pytest.raises(ValueError, match="unknown usage 'Test'"):
        load_fer2013(fer_csv, usage="Test")


@pytest.fixture
def kaggle_folder(tmp_path, val_files):
    """The Kaggle release's layout: test/ mixes PublicTest_ and PrivateTest_ files."""
    root = tmp_path / "fer2013"
    for i, (path, label) in enumerate(val_files[::7]):
        split, prefix = [("train", "Training"), ("test", "PublicTest"), ("test", "PrivateTest")][
            i % 3
        ]
        folder = root / split / LABELS[label]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / f"{prefix}_{1000 + i}.jpg")
    return root


def test_kaggle_folder_usage_comes_from_the_file_prefix(kaggle_folder):
    assert input_kind(kaggle_folder) == "fer2013-folder"
    data = load_fer2013(kaggle_folder)
    prefixes = [i.split("_")[0] for i in data.ids]
    assert data.usage.tolist() == prefixes
    assert {"Training", "PublicTest", "PrivateTest"} == set(prefixes)
    assert data.images.shape[1:] == (48, 48)
    assert len(load_fer2013(kaggle_folder, usage="PrivateTest")) == prefixes.count("PrivateTest")


def test_shared_layout_with_val_folder(fer_root):
    assert input_kind(fer_root) == "fer2013-folder"
    val = load_fer2013(fer_root, usage="PublicTest")
    assert len(val) == 3589
    assert val.ids[0].startswith("PublicTest_")
    counts = np.bincount(val.labels, minlength=7)
    assert counts.tolist() == [467, 56, 496, 895, 653, 415, 607]


def test_image_folder_is_not_taken_for_fer2013(tmp_path, val_files):
    (tmp_path / "happy").mkdir()
    shutil.copy(val_files[0][0], tmp_path / "happy" / "a.jpg")
    with pytest.raises(DataError, match="load_image_folder"):
        load_fer2013(tmp_path)
    csv_path = write_fer2013_csv(
        tmp_path / "f.csv", np.zeros((1, 48, 48), np.uint8), [0], ["Training"]
    )
    with pytest.raises(DataError, match="load_fer2013"):
        load_image_folder(csv_path)


def _row(label="3", pixels=None, usage="Training"):
    pixels = " ".join(["0"] * 2304) if pixels is None else pixels
    return f"{label},{pixels},{usage}\n"


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        (_row(label="7"), "line 3: emotion must be an integer 0..6, got '7'"),
        (_row(label="x"), "line 3: emotion must be an integer"),
        (_row(pixels=" ".join(["0"] * 2303)), "line 3: expected 2304 pixel values, got 2303"),
        (_row(pixels=" ".join(["0"] * 2303 + ["256"])), "line 3: pixel values must lie in 0..255"),
        (_row(pixels=" ".join(["0"] * 2303 + ["-1"])), "line 3: pixel values must lie in 0..255"),
        (_row(pixels=" ".join(["0"] * 2303 + ["a"])), "line 3: pixels must be space-separated"),
        (_row(usage="Test"), "line 3: Usage must be one of Training, PublicTest, PrivateTest"),
        ("3,0 0\n", "line 3: expected 3 columns, got 2"),
    ],
)
def test_bad_rows_name_their_line(tmp_path, bad_row, message):
    path = tmp_path / "fer2013.csv"
    path.write_text("emotion,pixels,Usage\n" + _row() + bad_row + _row())
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_fer2013(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("label,pixels,Usage\n", "line 1: missing column\\(s\\) emotion"),
        ("emotion,pixels\n", "missing column\\(s\\) Usage"),
    ],
)
def test_bad_headers_are_explained(tmp_path, content, message):
    path = tmp_path / "fer2013.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_fer2013(path)


def test_missing_and_wrong_kind_of_path(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        load_fer2013(tmp_path / "nope.csv")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match="expected a fer2013.csv file or a folder"):
        load_fer2013(tmp_path / "notes.txt")


def test_columns_in_another_order_and_extra_columns(tmp_path, val_faces):
    images, labels = val_faces[0][:3], val_faces[1][:3]
    path = tmp_path / "reordered.csv"
    with open(path, "w") as f:
        f.write("Usage,extra,pixels,emotion\n")
        for image, label in zip(images, labels, strict=True):
            f.write(f"PublicTest,x,{' '.join(map(str, image.ravel()))},{label}\n")
    data = load_fer2013(path)
    np.testing.assert_array_equal(data.images, images)
    np.testing.assert_array_equal(data.labels, labels)
