"""Model files that say what they are: emonet's record inside the .keras file."""

from __future__ import annotations

import json
import zipfile

import h5py
import numpy as np
import pytest

from emonet.features import FeatureExtractor
from emonet.models import (
    ModelInfo,
    build_model,
    check_feature_settings,
    feature_settings,
    load_model,
    read_model_info,
    save_model,
)
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def features_model():
    config = tiny_config("compact_features")
    return build_model(config), config


def _weight_values(path) -> int:
    """Number of stored values in the weights of a .keras archive."""
    total = 0
    with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as stream:
        with h5py.File(stream, "r") as weights:

            def visit(_, item):
                nonlocal total
                if isinstance(item, h5py.Dataset):
                    total += item.size

            weights.visititems(visit)
    return total


def test_round_trip_keeps_config_settings_and_predictions(tmp_path, features_model):
    model, config = features_model
    path = save_model(
        model,
        tmp_path / "m.keras",
        model_config=config,
        feature_config=FeatureExtractor(block_norm="L1"),
    )
    loaded = load_model(path)
    info = loaded.emonet_info
    assert info.model_config == config
    assert info.uses_features
    assert info.feature_settings == feature_settings(FeatureExtractor(block_norm="L1"))
    assert info.labels[0] == "angry" and len(info.labels) == 7
    assert read_model_info(path) == info
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48, 1), dtype=np.uint8)
    feats = np.random.default_rng(1).normal(size=(3, 2728)).astype(np.float32)
    inputs = {"face": faces, "features": feats}
    np.testing.assert_allclose(
        loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0), atol=1e-6
    )


def test_saved_file_has_no_optimizer_state(tmp_path, features_model):
    model, config = features_model
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x = {
        "face": np.zeros((4, 48, 48, 1), np.uint8),
        "features": np.zeros((4, 2728), np.float32),
    }
    model.fit(x, np.eye(7)[[0, 1, 2, 3]], epochs=1, verbose=0)
    path = save_model(model, tmp_path / "m.keras", model_config=config)
    stored = _weight_values(path)
    # every variable of the model (weights and normalisation statistics), nothing else
    assert stored == sum(int(np.prod(v.shape)) for v in model.weights)
    with zipfile.ZipFile(path) as archive:
        keras_config = json.loads(archive.read("config.json"))
    assert not keras_config.get("compile_config")


def test_model_without_features_records_no_settings(tmp_path):
    config = tiny_config("compact")
    path = save_model(build_model(config), tmp_path / "m.keras", model_config=config)
    info = load_model(path).emonet_info
    assert not info.uses_features and info.feature_settings is None


def test_plain_keras_file_loads_with_an_inferred_record(tmp_path, features_model):
    model, _ = features_model
    model.save(tmp_path / "plain.keras")
    assert read_model_info(tmp_path / "plain.keras") is None
    info = load_model(tmp_path / "plain.keras").emonet_info
    assert info.model_config is None and info.uses_features
    assert info.feature_settings == feature_settings()


def test_other_hog_settings_are_refused_by_name():
    info = ModelInfo(None, uses_features=True, feature_settings=feature_settings())
    check_feature_settings(info, FeatureExtractor())  # the same: no error
    with pytest.raises(ValueError, match=r"block_norm='L1'.*block_norm='L2-Hys'"):
        check_feature_settings(info, FeatureExtractor(block_norm="L1"))
    without = ModelInfo(None, uses_features=False, feature_settings=None)
    check_feature_settings(without, FeatureExtractor(block_norm="L1"))  # reads none


@pytest.mark.parametrize(
    "content",
    [b"", b"not a zip at all", b"PK\x03\x04 truncated", None],
    ids=["empty", "text", "truncated-zip", "zip-without-model"],
)
def test_damaged_model_files_give_one_clear_error(tmp_path, content):
    path = tmp_path / "bad.keras"
    if content is None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("readme.txt", "hello")
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match="bad.keras"):
        load_model(path)


def test_damaged_record_is_named(tmp_path, features_model):
    model, config = features_model
    path = save_model(model, tmp_path / "m.keras", model_config=config)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("emonet.json", "{not json")
    with pytest.raises(ValueError, match="m.keras: damaged emonet model record"):
        load_model(path)


def test_wrong_suffix_and_missing_file(tmp_path, features_model):
    model, _ = features_model
    with pytest.raises(ValueError, match=r"\.keras"):
        save_model(model, tmp_path / "m.h5")
    with pytest.raises(FileNotFoundError, match="nowhere.keras"):
        load_model(tmp_path / "nowhere.keras")
