"""The registered preprocessing layers match keras.applications and plain BatchNormalization."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from emonet.models import BackbonePreprocessing, FusedBatchNormalization, GrayToRGB


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (2, 5, 5, 3)).astype("float32")


def test_gray_to_rgb_repeats_the_channel_and_casts_uint8():
    gray = np.arange(2 * 4 * 4, dtype="uint8").reshape(2, 4, 4, 1)
    out = keras.ops.convert_to_numpy(GrayToRGB()(gray))
    assert out.dtype == np.float32 and out.shape == (2, 4, 4, 3)
    for channel in range(3):
        np.testing.assert_array_equal(out[..., channel], gray[..., 0])


@pytest.mark.parametrize(
    ("mode", "reference"),
    [
        ("caffe", keras.applications.resnet50.preprocess_input),
        ("tf", keras.applications.inception_resnet_v2.preprocess_input),
        ("torch", keras.applications.densenet.preprocess_input),
    ],
)
def test_preprocessing_equals_keras_applications(rgb, mode, reference):
    ours = keras.ops.convert_to_numpy(BackbonePreprocessing(mode)(rgb))
    np.testing.assert_allclose(ours, reference(rgb.copy()), rtol=1e-5, atol=1e-4)


def test_preprocessing_unit_and_standardize():
    x = np.random.default_rng(1).uniform(0, 255, (3, 6, 6, 1)).astype("float32")
    np.testing.assert_allclose(BackbonePreprocessing("unit")(x), x / 255, rtol=1e-6)
    standard = keras.ops.convert_to_numpy(BackbonePreprocessing("standardize")(x))
    np.testing.assert_allclose(standard.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(standard.std(axis=(1, 2, 3)), 1, atol=1e-4)


def test_unknown_preprocessing_mode_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown preprocessing mode 'bgr'.*caffe"):
        BackbonePreprocessing("bgr")


@pytest.mark.parametrize("training", [False, True])
def test_fused_batch_normalization_equals_batch_normalization(training):
    # few values per channel (8 x 5 x 5), so that a biased/unbiased variance mix-up shows
    x = np.random.default_rng(2).normal(3, 2, (8, 5, 5, 4)).astype("float32")
    fused, plain = FusedBatchNormalization(), keras.layers.BatchNormalization()
    for layer in (fused, plain):
        layer.build(x.shape)
        layer.set_weights([np.full(4, v, "float32") for v in (1.5, 0.2, 2.5, 3.0)])
    assert fused._fusable(x, None) == (keras.backend.backend() == "tensorflow")
    for step in range(3):  # the moving statistics move the same way, step after step
        batch = x + step
        np.testing.assert_allclose(
            fused(batch, training=training), plain(batch, training=training), rtol=1e-5, atol=1e-5
        )
        np.testing.assert_allclose(fused.moving_mean, plain.moving_mean, rtol=1e-6)
        np.testing.assert_allclose(fused.moving_variance, plain.moving_variance, rtol=1e-6)


def test_fused_batch_normalization_under_mixed_precision_matches_float32_statistics():
    x = np.random.default_rng(3).normal(0, 1, (4, 6, 6, 3)).astype("float32")
    fused = FusedBatchNormalization(dtype="mixed_bfloat16")
    plain = keras.layers.BatchNormalization(dtype="mixed_bfloat16")
    for layer in (fused, plain):
        layer.build(x.shape)
    out_fused, out_plain = fused(x, training=True), plain(x, training=True)
    assert keras.backend.standardize_dtype(out_fused.dtype) == "bfloat16"
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(keras.ops.cast(out_fused, "float32")),
        keras.ops.convert_to_numpy(keras.ops.cast(out_plain, "float32")),
        atol=0.05,
    )
    np.testing.assert_allclose(fused.moving_variance, plain.moving_variance, rtol=1e-5)


def test_layers_round_trip_through_their_config():
    for layer in (
        GrayToRGB(name="g"),
        BackbonePreprocessing("caffe", name="p"),
        FusedBatchNormalization(momentum=0.9, name="bn"),
    ):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
