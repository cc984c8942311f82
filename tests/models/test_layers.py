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
    x = np.random.default_rng(2).normal(3, 2, (8, 5, 5, 4)).astype("float32")
    fused, plain = FusedBatchNormalization(), keras.layers.BatchNormalization()
    for layer in (fused, plain):
        layer.build(x.shape)
        layer.set_weights([np.full(4, v, "float32") for v in (1.5, 0.2, 2.5, 3.0)])
    np.testing.assert_allclose(
        fused(x, training=training), plain(x, training=training), rtol=1e-4, atol=1e-4
    )
    # moving statistics move the same way (the variance by n/(n-1), the fused kernel's)
    np.testing.assert_allclose(fused.moving_mean, plain.moving_mean, rtol=1e-5)
    np.testing.assert_allclose(fused.moving_variance, plain.moving_variance, rtol=1e-3)


def test_layers_round_trip_through_their_config():
    for layer in (
        GrayToRGB(name="g"),
        BackbonePreprocessing("caffe", name="p"),
        FusedBatchNormalization(momentum=0.9, name="bn"),
    ):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
