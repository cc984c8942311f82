import h5py
import numpy as np
import pytest

from emonet.features import FeatureExtractor, load_features, write_features


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
    assert write_features(path, parts, {"source": "test", "hog_block_norm": "L2-Hys"}, 2728) == 30
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
    assert not path.with_name(path.name + ".tmp").exists()


def test_select_and_usage_filter(stored):
    path, *_ = stored
    val = load_features(path, usage="PublicTest")
    assert len(val) == 10 and set(val.usage) == {"PublicTest"}
    both = load_features(path).select(["Training", "PublicTest"])
    assert len(both) == 30
    with pytest.raises(ValueError, match="unknown usage"):
        both.select("Test")


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
