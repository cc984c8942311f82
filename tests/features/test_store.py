import h5py
import numpy as np
import pytest

from emonet.features import FeatureExtractor, load_features, save_features


@pytest.fixture(scope="module")
def stored(tmp_path_factory, val_faces):
    images, labels = val_faces[0][:30], val_faces[1][:30]
    features = FeatureExtractor().transform(images)
    usage = np.array(["Training"] * 20 + ["PublicTest"] * 10)
    ids = np.array([f"face{i}" for i in range(30)])
    parts = [
        {
            "images": images[:12],
            "features": features[:12],
            "labels": labels[:12],
            "usage": usage[:12],
            "ids": ids[:12],
            "skipped_ids": np.array(["bad.jpg"]),
            "skipped_reasons": np.array(["not a decodable image"]),
        },
        {
            "images": images[12:],
            "features": features[12:],
            "labels": labels[12:],
            "usage": usage[12:],
            "ids": ids[12:],
        },
    ]
    path = tmp_path_factory.mktemp("store") / "faces.h5"
    assert save_features(path, parts, {"source": "test", "hog_block_norm": "L2-Hys"}, 2728) == 30
    return path, images, features, labels, usage, ids


def test_round_trip(stored):
    path, images, features, labels, usage, ids = stored
    loaded = load_features(path)
    np.testing.assert_array_equal(loaded.images, images)
    np.testing.assert_array_equal(loaded.features, features)
    np.testing.assert_array_equal(loaded.labels, labels)
    assert loaded.usage.tolist() == usage.tolist() and loaded.ids.tolist() == ids.tolist()
    np.testing.assert_array_equal(loaded.landmarks, features[:, :136].reshape(-1, 68, 2))
    np.testing.assert_array_equal(loaded.hog, features[:, 136:])
    assert loaded.skipped == [("bad.jpg", "not a decodable image")]
    assert loaded.attrs["source"] == "test" and loaded.attrs["label_names"][3] == "happy"
    assert sorted(p.name for p in path.parent.iterdir()) == ["faces.h5"]  # no temporary file


def test_select_and_usage_filter(stored):
    path, *_ = stored
    val = load_features(path, usage="PublicTest")
    assert len(val) == 10 and set(val.usage) == {"PublicTest"}
    both = load_features(path).select(["Training", "PublicTest"])
    assert len(both) == 30
    with pytest.raises(ValueError, match="unknown usage"):
        both.select("Test")
    with pytest.raises(ValueError, match="unknown usage 'Test'"):
        load_features(path, usage="Test")


def test_foreign_and_missing_files_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such features file"):
        load_features(tmp_path / "missing.h5")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(ValueError, match="not an emonet features file"):
        load_features(other)
    text = tmp_path / "text.h5"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        load_features(text)


def test_a_failed_save_leaves_no_file_behind(tmp_path, stored):
    _, images, features, labels, usage, ids = stored
    good = {"images": images, "features": features, "labels": labels, "usage": usage, "ids": ids}
    bad = dict(good, features=features[:, :100])  # the wrong width
    with pytest.raises((ValueError, TypeError)):
        save_features(tmp_path / "faces.h5", [good, bad], {"source": "test"}, 2728)
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_features_file_is_one_line(tmp_path, stored):
    path = tmp_path / "damaged.h5"
    with h5py.File(stored[0], "r") as source, h5py.File(path, "w") as copy:
        for key, value in source.attrs.items():
            copy.attrs[key] = value
        for name in ("images", "features", "labels", "ids"):  # usage is missing
            source.copy(name, copy)
    with pytest.raises(ValueError, match="damaged emonet features file") as error:
        load_features(path)
    assert "\n" not in str(error.value)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(stored[0].read_bytes()[:4000])
    with pytest.raises(ValueError, match="truncated.h5") as error:
        load_features(truncated)
    assert "\n" not in str(error.value)
