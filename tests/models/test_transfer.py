"""transfer_weights: the same network gets the weights; a wider one starts computing what
the trained one computes, on real faces and their real features."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest

from emonet.models import ModelConfig, build_model, predict_proba, transfer_weights
from tests.models.conftest import TINY

NARROW = ModelConfig(
    "compact",
    use_features=True,
    backbone_options=TINY,
    feature_units=(16,),
    head_units=(16,),
)


def _build(config: ModelConfig, data) -> keras.Model:
    return build_model(config, features=data.features)


def _trained_looking(model: keras.Model, seed: int = 0) -> keras.Model:
    """Batch normalisation away from its initial values (the rest is random already), so
    that no weight is one a wrong copy could match by chance."""
    rng = np.random.default_rng(seed)
    for layer in model.get_layer("backbone").layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            shapes = [w.shape for w in layer.get_weights()]
            layer.set_weights([np.abs(rng.normal(1, 0.3, shape)) for shape in shapes])
    return model


def test_the_same_network_gets_every_weight(train_set):
    source = _trained_looking(_build(NARROW, train_set))
    target = _build(NARROW, train_set)
    transfer_weights(source, target)
    for a, b in zip(source.get_weights(), target.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_wider_network_computes_what_the_trained_one_did(train_set, val_set):
    source = _trained_looking(_build(NARROW, train_set))
    widths = [w + 8 * (i % 2) for i, w in enumerate(TINY["widths"])]  # every other block wider
    wider = dataclasses.replace(
        NARROW,
        backbone_options={**TINY, "widths": widths},
        feature_units=(24,),
        head_units=(40,),
    )
    target = _build(wider, train_set)
    assert target.count_params() > source.count_params()
    transfer_weights(source, target)
    np.testing.assert_allclose(
        predict_proba(target, val_set), predict_proba(source, val_set), atol=1e-5
    )
    # the new units are there to learn: random on what they read, zero in what reads them
    kernel = target.get_layer("head_dense1").get_weights()[0]
    assert np.all(kernel[-8:, :16] == 0)  # the feature branch's 8 new units feed nothing
    assert np.any(kernel[:, 16:] != 0)  # the head's 24 new units read the old ones
    # the first block's convolution kept its width: its weights are the trained ones
    block1 = target.get_layer("backbone").get_layer("block1_conv1")
    np.testing.assert_array_equal(
        block1.get_weights()[0],
        source.get_layer("backbone").get_layer("block1_conv1").get_weights()[0],
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"head_units": (8,)}, r"'head_dense1': kernel .* cannot hold the trained"),
        ({"num_classes": 8}, r"'probabilities': the output is \(None, 8\), not \(None, 7\)"),
        ({"use_features": False}, r"'head_dense1': kernel .* cannot hold the trained"),
        (
            {"backbone_options": {**TINY, "pooling": "avg"}},
            r"layer 'avg_pool' is not in the trained model",
        ),
    ],
)
def test_other_networks_are_refused_and_keep_their_weights(train_set, change, message):
    source = _trained_looking(_build(NARROW, train_set))
    target = _build(dataclasses.replace(NARROW, **change), train_set)
    before = target.get_weights()
    with pytest.raises(ValueError, match=message):
        transfer_weights(source, target)
    for a, b in zip(before, target.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
