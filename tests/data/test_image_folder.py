import shutil

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from emonet import LABELS
from emonet.data import DataError, label_index, load_image_folder


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("anger", "angry"),
        ("Angry", "angry"),
        ("happiness", "happy"),
        ("sadness", "sad"),
        ("surprised", "surprise"),
        ("neutrality", "neutral"),
        ("disgusted", "disgust"),
        ("fearful", "fear"),
        ("3", "happy"),
        ("03_happy", "happy"),
        ("HA", "happy"),
    ],
)
def test_label_folder_spellings(name, label):
    assert label_index(name) == LABELS.index(label)


def test_unknown_labels(tmp_path):
    assert label_index("contempt") is None


@pytest.fixture
def folder(tmp_path, val_files):
    """anger/, happiness/ and contempt/ folders of real faces, in other sizes and colour."""
    root = tmp_path / "dataset"
    for name, (path, _) in zip(["anger", "happiness", "contempt"], val_files[::60], strict=False):
        (root / name).mkdir(parents=True)
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(root / name / "a.png"), cv2.resize(gray, (96, 96)))
        cv2.imwrite(str(root / name / "b.jpg"), cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    return root


def test_unknown_label_folder_is_an_error_naming_it(folder):
    with pytest.raises(DataError, match="unknown label folder 'contempt'"):
        load_image_folder(folder)


def test_images_of_any_size_and_colour_become_48x48_gray(folder):
    data = load_image_folder(folder, skip_unknown_labels=True)
    assert data.images.shape == (4, 48, 48) and data.images.dtype == np.uint8
    assert data.labels.tolist() == [0, 0, 3, 3]
    assert data.ids.tolist() == ["anger/a", "anger/b", "happiness/a", "happiness/b"]
    assert data.skipped == []


def test_unreadable_images_are_skipped_and_reported(folder):
    (folder / "anger" / "broken.jpg").write_bytes(b"not a jpeg at all")
    (folder / "anger" / "empty.png").write_bytes(b"")
    data = load_image_folder(folder, skip_unknown_labels=True)
    assert len(data) == 4
    reasons = {s.id.rsplit("/", 1)[-1]: s.reason for s in data.skipped}
    assert reasons == {"broken.jpg": "not a decodable image", "empty.png": "empty file"}


def test_face_detection_on_photos(tmp_path):
    (tmp_path / "happy").mkdir()
    cv2.imwrite(str(tmp_path / "happy" / "astronaut.png"), skdata.astronaut()[:, :, ::-1])
    cv2.imwrite(str(tmp_path / "happy" / "wall.png"), np.full((200, 200), 90, np.uint8))
    data = load_image_folder(tmp_path, detect_faces=True)
    assert data.ids.tolist() == ["happy/astronaut"]
    assert [s.reason for s in data.skipped] == ["no face found"]


def test_empty_and_missing_folders(tmp_path):
    with pytest.raises(DataError, match="no images found"):
        load_image_folder(tmp_path)
    with pytest.raises(DataError, match="no such file or folder"):
        load_image_folder(tmp_path / "missing")


def test_fer2013_numbered_folders(tmp_path, val_files):
    for path, label in val_files[::50]:
        (tmp_path / str(label)).mkdir(exist_ok=True)
        shutil.copy(path, tmp_path / str(label) / path.name)
    data = load_image_folder(tmp_path)
    assert sorted(set(data.labels.tolist())) == sorted({label for _, label in val_files[::50]})
