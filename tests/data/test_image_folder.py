import shutil

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    assert data.ids.tolist() == [
        "anger/a.png",
        "anger/b.jpg",
        "happiness/a.png",
        "happiness/b.jpg",
    ]
    assert data.skipped == []


def test_same_name_in_two_formats_gives_two_ids(folder):
    """Ids are the paths below the root, extension included: unique by construction."""
    shutil.copy(folder / "anger" / "b.jpg", folder / "anger" / "a.jpg")
    data = load_image_folder(folder, skip_unknown_labels=True)
    assert data.ids.tolist()[:3] == ["anger/a.jpg", "anger/a.png", "anger/b.jpg"]
    assert len(set(data.ids.tolist())) == len(data) == 5


def test_unreadable_images_are_skipped_and_reported(folder):
    (folder / "anger" / "broken.jpg").write_bytes(b"not a jpeg at all")
    (folder / "anger" / "empty.png").write_bytes(b"")
    data = load_image_folder(folder, skip_unknown_labels=True)
    assert len(data) == 4
    reasons = {s.id.rsplit("/", 1)[-1]: s.reason for s in data.skipped}
    assert reasons == {"broken.jpg": "not a decodable image", "empty.png": "empty file"}


def test_images_that_cannot_be_a_face_are_skipped_by_name(folder, val_files):
    face = cv2.imread(str(val_files[0][0]), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(folder / "anger" / "dot.png"), face[:1, :1])
    cv2.imwrite(str(folder / "anger" / "strip.png"), face[:10, :])
    cv2.imwrite(str(folder / "anger" / "small.png"), cv2.resize(face, (16, 16)))
    data = load_image_folder(folder, skip_unknown_labels=True)
    reasons = {s.id.rsplit("/", 1)[-1]: s.reason for s in data.skipped}
    assert reasons == {
        "dot.png": "1x1 pixels: too small for a face crop (at least 16x16)",
        "strip.png": "48x10 pixels: too small for a face crop (at least 16x16)",
    }
    assert "anger/small.png" in data.ids.tolist()


def test_deep_images_are_scaled_by_their_bit_depth(tmp_path, val_files):
    """12-bit data in a 16-bit PNG and a float TIFF in [0, 1] read as the 8-bit face."""
    face = cv2.imread(str(val_files[0][0]), cv2.IMREAD_GRAYSCALE)
    (tmp_path / "happy").mkdir()
    twelve_bit = np.rint(face.astype(np.float64) * 4095 / 255).astype(np.uint16)
    twelve_bit[0, 0] = 4095  # the face's brightest value, as a 12-bit camera stores it
    cv2.imwrite(str(tmp_path / "happy" / "deep.png"), twelve_bit)
    cv2.imwrite(str(tmp_path / "happy" / "float.tiff"), face.astype(np.float32) / 255)
    data = load_image_folder(tmp_path)
    assert data.ids.tolist() == ["happy/deep.png", "happy/float.tiff"]
    expected = face.copy()
    expected[0, 0] = 255
    np.testing.assert_array_equal(data.images[0], expected)
    np.testing.assert_array_equal(data.images[1], face)


def test_photos_are_for_the_features_stage(tmp_path):
    with pytest.raises(TypeError, match="detect_faces"):
        load_image_folder(tmp_path, detect_faces=True)


def test_empty_and_missing_folders(tmp_path):
    with pytest.raises(DataError, match="no images found"):
        load_image_folder(tmp_path)
    with pytest.raises(DataError, match="no such file or folder"):
        load_image_folder(tmp_path / "missing")


def test_bad_usage_is_refused(folder):
    with pytest.raises(ValueError, match="unknown usage 'Test'"):
        load_image_folder(folder, skip_unknown_labels=True, usage="Test")


def test_fer2013_numbered_folders(tmp_path, val_files):
    for path, label in val_files[::50]:
        (tmp_path / str(label)).mkdir(exist_ok=True)
        shutil.copy(path, tmp_path / str(label) / path.name)
    data = load_image_folder(tmp_path)
    assert sorted(set(data.labels.tolist())) == sorted({label for _, label in val_files[::50]})


@pytest.fixture(scope="module")
def image_bytes(val_files) -> bytes:
    return val_files[0][0].read_bytes()


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.integers(min_value=0, max_value=2000),
    noise=st.binary(max_size=64),
    at=st.integers(min_value=0, max_value=2000),
    suffix=st.sampled_from([".jpg", ".png", ".bmp", ".tiff", ".webp", ".pgm"]),
)
def test_any_bytes_in_an_image_file_are_read_or_skipped(
    tmp_path_factory, image_bytes, cut, noise, at, suffix
):
    """Damaged real JPEG bytes under any image extension: read as a 48x48 face or
    skipped with a reason, never an exception, and the good file always read."""
    root = tmp_path_factory.mktemp("fuzz")
    (root / "happy").mkdir()
    (root / "happy" / "good.jpg").write_bytes(image_bytes)
    damaged = image_bytes[:cut] + noise + image_bytes[cut + len(noise) :][:at]
    (root / "happy" / f"damaged{suffix}").write_bytes(damaged)
    data = load_image_folder(root)
    names = [*data.ids.tolist(), *(s.id.rsplit("/", 1)[-1] for s in data.skipped)]
    assert sorted(n.rsplit("/", 1)[-1] for n in names) == sorted(["good.jpg", f"damaged{suffix}"])
    assert "happy/good.jpg" in data.ids.tolist()
    assert data.images.shape == (len(data), 48, 48) and data.images.dtype == np.uint8
    for skipped in data.skipped:
        assert skipped.reason and "\n" not in skipped.reason
