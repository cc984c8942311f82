"""Quantized networks: an int8 copy reads real faces as its float original does, carries
emonet's record in its .tflite file, and runs wherever a Keras model runs."""

from __future__ import annotations

import numpy as np
import pytest

from emonet.models import (
    LiteModel,
    build_model,
    load_lite_model,
    predict_crops,
    predict_proba,
    quantize_model,
    save_model,
)
from tests.models.conftest import TINY, WITH_FEATURES


@pytest.fixture(scope="module")
def pixels_model():
    """An untrained face-only network, deterministic weights."""
    import keras

    keras.utils.set_random_seed(3)
    return build_model("compact", use_features=False, backbone_options=TINY)


@pytest.fixture(scope="module")
def lite_pixels(pixels_model, train_set):
    return quantize_model(pixels_model, train_set.images)


def test_int8_copy_reads_real_faces_as_the_float_network(pixels_model, lite_pixels, val_set):
    assert lite_pixels.quantization == "int8"
    assert lite_pixels.input_names == ("face",) and lite_pixels.feature_width is None
    assert lite_pixels.num_classes == 7 and lite_pixels.name == pixels_model.name
    expected = predict_crops(pixels_model, val_set.images)
    got = predict_crops(lite_pixels, val_set.images)
    assert got.dtype == np.float32 and got.shape == expected.shape
    # the softmax runs in float after the quantized network: rows sum to 1 exactly
    np.testing.assert_allclose(got.sum(axis=1), 1, atol=1e-6)
    # int8 logits: probabilities within a few hundredths, never identical
    difference = np.abs(got - expected)
    assert difference.max() < 0.05 and difference.max() > 0
    # with test-time augmentation too, view for view
    np.testing.assert_allclose(
        predict_crops(lite_pixels, val_set.images, tta="multiscale"),
        predict_crops(pixels_model, val_set.images, tta="multiscale"),
        atol=0.05,
    )


def test_weights_only_quantization_needs_no_calibration_and_stays_closer(
    pixels_model, lite_pixels, val_set
):
    weights = quantize_model(pixels_model, val_set.images[:1], quantization="weights")
    expected = predict_crops(pixels_model, val_set.images)
    assert weights.quantization == "weights"
    closer = np.abs(predict_crops(weights, val_set.images) - expected).max()
    assert closer < np.abs(predict_crops(lite_pixels, val_set.images) - expected).max()


def test_a_two_branch_network_is_quantized_with_its_features(features_model, train_set, val_set):
    # features computed by the model's extractor when none are given
    lite = quantize_model(features_model, train_set.images)
    assert lite.input_names == ("face", "features")
    assert lite.feature_width == val_set.features.shape[1]
    assert lite.emonet_info.uses_features
    got = predict_proba(lite, val_set)
    expected = predict_proba(features_model, val_set)
    assert np.abs(got - expected).max() < 0.1
    same = np.mean(got.argmax(axis=1) == expected.argmax(axis=1))
    assert same >= 0.9


def test_the_file_round_trips_with_emonet_s_record(pixels_model, lite_pixels, val_set, tmp_path):
    path = lite_pixels.save(tmp_path / "m.tflite")
    assert path.read_bytes()[4:8] == b"TFL3"  # an ordinary LiteRT flatbuffer
    loaded = load_lite_model(path, num_threads=1)
    assert isinstance(loaded, LiteModel)
    assert loaded.emonet_info == lite_pixels.emonet_info
    assert (loaded.name, loaded.quantization) == (lite_pixels.name, "int8")
    np.testing.assert_array_equal(
        predict_crops(loaded, val_set.images), predict_crops(lite_pixels, val_set.images)
    )
    # a quarter of the float file, give or take the record
    keras_file = save_model(pixels_model, tmp_path / "m.keras")
    assert path.stat().st_size < keras_file.stat().st_size / 2


def test_a_file_saved_from_a_model_keeps_its_feature_settings(tmp_path, train_set, val_set):
    from emonet.features import FeatureExtractor
    from emonet.models import load_model

    path = save_model(
        build_model(WITH_FEATURES, features=train_set.features),
        tmp_path / "f.keras",
        model_config=WITH_FEATURES,
        feature_config=FeatureExtractor(block_norm="L1"),
    )
    lite = quantize_model(load_model(path), train_set.images, train_set.features, max_faces=16)
    loaded = load_lite_model(lite.save(tmp_path / "f.tflite"))
    assert loaded.emonet_info.model_config == WITH_FEATURES
    assert loaded.emonet_info.feature_settings["block_norm"] == "L1"
    with pytest.raises(ValueError, match="block_norm='L2-Hys'.*trained on block_norm='L1'"):
        predict_proba(loaded, val_set)


def test_bad_files_get_one_line_naming_them(tmp_path, pixels_model):
    import tensorflow as tf

    with pytest.raises(FileNotFoundError, match="missing.tflite: no such model file"):
        load_lite_model(tmp_path / "missing.tflite")
    keras_file = save_model(pixels_model, tmp_path / "m.keras")
    with pytest.raises(ValueError, match=r"m.keras: expected a \.tflite file"):
        load_lite_model(keras_file)
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(ValueError, match="junk.tflite: not a LiteRT"):
        load_lite_model(junk)
    # a LiteRT file converted without emonet: it says how to make one emonet reads
    plain = tmp_path / "plain.tflite"
    pixels_model.export(tmp_path / "saved", format="tf_saved_model", verbose=False)
    plain.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "saved")).convert())
    with pytest.raises(ValueError, match="plain.tflite: a .tflite file without emonet's record"):
        load_lite_model(plain)
    with pytest.raises(ValueError, match="end in .tflite"):
        quantize_model(pixels_model, np.zeros((2, 48, 48), np.uint8)).save(tmp_path / "x.lite")


def test_quantize_model_refuses_bad_arguments(pixels_model):
    faces = np.zeros((4, 48, 48), np.uint8)
    with pytest.raises(ValueError, match="quantization: expected one of int8, weights"):
        quantize_model(pixels_model, faces, quantization="int4")
    with pytest.raises(ValueError, match="max_faces must be at least 1"):
        quantize_model(pixels_model, faces, max_faces=0)
    with pytest.raises(ValueError, match="expected uint8 faces"):
        quantize_model(pixels_model, faces.astype(np.float32))
    with pytest.raises(ValueError, match="calibration needs at least one face"):
        quantize_model(pixels_model, faces[:0])


def test_quantize_model_refuses_features_that_do_not_match_the_faces(features_model):
    faces = np.zeros((4, 48, 48), np.uint8)
    with pytest.raises(ValueError, match=r"one row of 2728 values per face, shape \(4, 2728\)"):
        quantize_model(features_model, faces, np.zeros((4, 100), np.float32))
