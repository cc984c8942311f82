"""The two-branch network: inputs, normalisation, configuration, saving and loading."""

from __future__ import annotations

import json
import zipfile

import keras
import numpy as np
import pytest

from emonet import FEATURE_SIZE, NUM_CLASSES
from emonet.models import (
    BACKBONE_LAYER,
    FACE_INPUT,
    FEATURES_INPUT,
    ModelConfig,
    build_model,
    load_model,
    variant_config,
)
from tests.models.conftest import TINY


@pytest.fixture(scope="module")
def fused(train_set):
    return build_model(
        "compact", use_features=True, features=train_set.features, backbone_options=TINY
    )


def _inputs(data, n=6):
    return {"face": data.images[:n, :, :, None], "features": data.features[:n]}


def test_model_has_two_named_inputs_and_a_softmax(fused, val_set):
    assert [t.name for t in fused.inputs] == [FACE_INPUT, FEATURES_INPUT] == ["face", "features"]
    assert fused.output_shape == (None, NUM_CLASSES)
    assert fused.name == "compact_features"
    layers = {layer.name for layer in fused.layers}
    assert fused.get_layer(BACKBONE_LAYER).name == "backbone"
    assert {
        "backbone",
        "preprocessing",
        "feature_normalization",
        "fusion",
        "probabilities",
    } <= layers
    probabilities = fused.predict(_inputs(val_set), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


def test_pixels_only_model_takes_only_the_face(val_set):
    model = build_model("compact", use_features=False, backbone_options=TINY)
    assert [t.name for t in model.inputs] == ["face"]
    assert model.predict({"face": val_set.images[:3, :, :, None]}, verbose=0).shape == (3, 7)


def test_uint8_and_float_faces_give_the_same_output(fused, val_set):
    inputs = _inputs(val_set)
    as_float = dict(inputs, face=inputs["face"].astype("float32"))
    np.testing.assert_allclose(
        fused.predict(inputs, verbose=0), fused.predict(as_float, verbose=0), rtol=1e-6
    )


def test_normalization_is_adapted_on_the_training_features(fused, train_set):
    layer = fused.get_layer("feature_normalization")
    mean = keras.ops.convert_to_numpy(layer.mean).ravel()
    np.testing.assert_allclose(mean, train_set.features.mean(axis=0), rtol=1e-4, atol=1e-5)
    normalized = keras.ops.convert_to_numpy(layer(train_set.features))
    assert np.abs(normalized.mean(axis=0)).max() < 1e-3
    # a constant training feature is floored, not divided by ~0
    assert np.isfinite(normalized).all() and np.abs(normalized).max() < 1e3


def test_imagenet_backbones_get_resizing_and_three_channels():
    model = build_model("resnet50", use_features=False, input_size=40)
    assert model.get_layer("resize").get_config()["height"] == 40
    assert model.get_layer("gray_to_rgb").output.shape[-1] == 3
    assert model.get_layer("preprocessing").mode == "caffe"


def test_save_and_load_keep_outputs_equal_in_safe_mode(fused, val_set, tmp_path):
    path = tmp_path / "model.keras"
    fused.save(path)
    with zipfile.ZipFile(path) as archive:
        config = archive.read("config.json").decode()
    assert "Lambda" not in config and "emonet>GrayToRGB" not in config
    assert "emonet>BackbonePreprocessing" in config
    loaded = load_model(path)
    np.testing.assert_allclose(
        loaded.predict(_inputs(val_set), verbose=0),
        fused.predict(_inputs(val_set), verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )
    # and straight through Keras, safe mode on
    keras.saving.load_model(path, safe_mode=True)


def test_load_model_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file"):
        load_model(tmp_path / "missing.keras")
    other = tmp_path / "model.h5"
    other.write_bytes(b"x")
    with pytest.raises(ValueError, match="expected a .keras model file"):
        load_model(other)


def test_model_config_round_trips_through_json():
    config = variant_config("resnet50_features", input_size=64, head_units=[128, 64])
    restored = ModelConfig.from_config(json.loads(config.to_json()))
    assert restored == config
    assert restored.model_name == "resnet50_features"
    assert restored.resolved_input_size == 64
    assert build_model(ModelConfig("compact", backbone_options=TINY)).name == "compact"


def test_config_errors_are_clear():
    with pytest.raises(ValueError, match="unknown variant 'vgg'.*resnet50_features"):
        variant_config("vgg")
    with pytest.raises(ValueError, match="has no option 'depth'.*widths"):
        ModelConfig("compact", backbone_options={"depth": 3})
    with pytest.raises(ValueError, match="unknown model configuration keys: colour"):
        ModelConfig.from_config({"backbone": "compact", "colour": 1})
    with pytest.raises(ValueError, match=f"shape \\(N, {FEATURE_SIZE}\\)"):
        build_model("compact", True, features=np.zeros((4, 10)), backbone_options=TINY)


def test_architecture_diagram_of_a_config_and_of_a_model(tmp_path):
    from emonet.models import plot_architecture

    png = plot_architecture(variant_config("inception_resnet_v2_features"), tmp_path / "a.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = build_model("compact", use_features=False, backbone_options=TINY, dropout=0.3)
    assert plot_architecture(model, tmp_path / "b.png", use_keras=False).stat().st_size > 0
    alone = build_model(variant_config("features", feature_units=[16]))
    assert plot_architecture(alone, tmp_path / "c.png", use_keras=False).stat().st_size > 0


def test_a_model_of_the_features_alone_ignores_the_face(train_set, val_set, tmp_path):
    config = variant_config("features", feature_units=[16])
    assert config.backbone is None and config.model_name == "features"
    assert ModelConfig.from_config(json.loads(config.to_json())) == config
    model = build_model(config, features=train_set.features)
    assert "backbone" not in {layer.name for layer in model.layers}
    inputs = {"face": val_set.images[:8, :, :, None], "features": val_set.features[:8]}
    out = model.predict_on_batch(inputs)
    blank = model.predict_on_batch({**inputs, "face": np.zeros_like(inputs["face"])})
    np.testing.assert_array_equal(out, blank)  # the face changes nothing
    assert out.shape == (8, NUM_CLASSES)
    path = tmp_path / "features.keras"
    model.save(path)
    np.testing.assert_allclose(load_model(path).predict_on_batch(inputs), out, atol=1e-6)
    with pytest.raises(ValueError, match="reads the features alone: pass use_features=True"):
        ModelConfig(None, use_features=False)
    with pytest.raises(ValueError, match="no backbone weights"):
        build_model(config, weights="imagenet")
