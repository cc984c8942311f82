"""The backbone registry: every backbone builds and predicts; weights load or fail clearly."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest

from emonet.models import (
    PAPER_VARIANTS,
    VARIANTS,
    BackboneSpec,
    ModelConfig,
    WeightsError,
    build_backbone,
    build_model,
    get_backbone,
    list_backbones,
    load_backbone_weights,
    load_model,
    register_backbone,
)
from emonet.models import _backbones as backbones_module
from emonet.training import AugmentConfig, TrainingConfig, train
from tests.models.conftest import TINY

# the smallest inputs the architectures take, to stay fast
SMALL = {"inception_resnet_v2": 75, "resnet50": 32, "compact": 48}


def test_registry_lists_the_three_backbones_and_their_defaults():
    assert list_backbones() == ["compact", "inception_resnet_v2", "resnet50"]
    assert get_backbone("inception_resnet_v2").default_input_size == 139
    assert get_backbone("resnet50").default_input_size == 197
    assert get_backbone("compact").default_input_size == 48
    assert set(PAPER_VARIANTS) <= set(VARIANTS)
    assert {VARIANTS[v].backbone for v in PAPER_VARIANTS} == {"inception_resnet_v2", "resnet50"}
    assert [VARIANTS[v].use_features for v in PAPER_VARIANTS] == [False, True, False, True]


def test_unknown_backbone_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown backbone 'vgg'.*compact, inception_resnet_v2"):
        get_backbone("vgg")


@pytest.mark.parametrize("name", ["compact", "inception_resnet_v2", "resnet50"])
def test_each_backbone_builds_and_predicts(name, val_set):
    model = build_model(name, use_features=True, input_size=SMALL[name], features=val_set.features)
    faces = val_set.images[:2, :, :, None]
    probabilities = model.predict({"face": faces, "features": val_set.features[:2]}, verbose=0)
    assert probabilities.shape == (2, 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    assert model.get_layer("backbone").input_shape[1:3] == (SMALL[name], SMALL[name])


def test_input_below_the_minimum_is_refused():
    with pytest.raises(ValueError, match="at least 75 pixels"):
        build_backbone("inception_resnet_v2", input_size=64)


def test_weights_file_loads_into_the_backbone(tmp_path):
    source = keras.applications.ResNet50(
        include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg"
    )
    path = tmp_path / "resnet50.weights.h5"
    source.save_weights(path)
    model = build_model("resnet50", use_features=False, input_size=32, weights=path)
    loaded = model.get_layer("backbone").get_weights()
    assert len(loaded) == len(source.get_weights())
    for a, b in zip(loaded, source.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_weights_file_of_a_full_model_with_a_top_loads(tmp_path):
    # a classifier around the backbone: the backbone's layers are found nested, the top ignored
    backbone = build_backbone("compact", **TINY)
    inputs = keras.Input((48, 48, 1))
    outer = keras.Model(inputs, keras.layers.Dense(3)(backbone(inputs)))
    path = tmp_path / "classifier.weights.h5"
    outer.save_weights(path)
    model = build_model("compact", use_features=False, weights=path, backbone_options=TINY)
    for a, b in zip(
        model.get_layer("backbone").get_weights(), backbone.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(a, b)


def test_mismatched_weights_file_names_the_layers(tmp_path):
    path = tmp_path / "compact.weights.h5"
    build_backbone("compact", **TINY).save_weights(path)
    with pytest.raises(
        WeightsError, match=r"does not fit backbone .*block1_conv1: model"
    ) as error:
        build_model(
            "compact",
            use_features=False,
            weights=path,
            backbone_options={**TINY, "widths": [16, 32]},
        )
    assert "block1_bn1" in str(error.value)
    with pytest.raises(WeightsError, match=r"conv1_conv: model .*missing from the file: conv1_bn"):
        build_model("resnet50", use_features=False, input_size=32, weights=path)


def test_not_a_weights_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.weights.h5"
    bad.write_text("not hdf5")
    with pytest.raises(WeightsError, match="not an HDF5 weights file"):
        build_model("compact", use_features=False, weights=bad, backbone_options=TINY)
    with pytest.raises(FileNotFoundError, match="no such weights file"):
        build_model(
            "compact",
            use_features=False,
            weights=tmp_path / "missing.weights.h5",
            backbone_options=TINY,
        )


def test_imagenet_goes_through_keras_and_explains_offline_failure(monkeypatch):
    from keras.src.utils import file_utils

    calls = []

    def offline(fname, origin=None, **kwargs):
        calls.append(origin)
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] name resolution")

    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(WeightsError, match=r"could not get the imagenet weights.*save_weights"):
        build_model("resnet50", use_features=False, input_size=32, weights="imagenet")
    assert calls and "resnet50" in calls[0]


def test_compact_has_no_pretrained_weights():
    with pytest.raises(WeightsError, match="has no named weights"):
        build_model("compact", use_features=False, weights="imagenet")


def _tiny_backbone(size: int, weights, width: int = 4) -> keras.Model:
    face = keras.Input((size, size, 1))
    x = keras.layers.Conv2D(width, 3, strides=2, activation="relu", name="tiny_conv")(face)
    return keras.Model(face, keras.layers.GlobalAveragePooling2D()(x), name="tiny")


@pytest.fixture
def tiny_backbone():
    """A backbone of our own in the registry, for the duration of one test."""
    spec = BackboneSpec(
        name="tiny_test",
        builder=_tiny_backbone,
        default_input_size=24,
        min_input_size=8,
        channels=1,
        preprocessing="unit",
        description="one convolution, for the tests",
        options={"width": 4},
    )
    assert register_backbone(spec) is spec
    yield spec
    backbones_module._REGISTRY.pop(spec.name)


def test_registered_backbone_builds_trains_and_reloads(
    tiny_backbone, train_set, val_set, tmp_path
):
    assert "tiny_test" in list_backbones() and get_backbone("tiny_test") is tiny_backbone
    config = ModelConfig(
        "tiny_test",
        use_features=True,
        feature_units=(8,),
        head_units=(8,),
        backbone_options={"width": 6},
    )
    model = build_model(config, features=train_set.features)
    assert model.get_layer("backbone").input_shape[1:] == (24, 24, 1)  # its default size
    assert model.get_layer("backbone").output_shape == (None, 6)  # the option reached it
    # one step of training on 32 faces, through the whole run folder
    few = dataclasses.replace(
        train_set,
        **{
            k: getattr(train_set, k)[:32] for k in ("images", "features", "labels", "usage", "ids")
        },
    )
    recipe = TrainingConfig.cpu(
        epochs=1, batch_size=32, augment=AugmentConfig(mode="none"), mixed_precision=None
    )
    result = train(few, val_set, config, recipe, out_dir=tmp_path / "run", verbose=0)
    assert result.epochs == 1 and np.isfinite(result.history["loss"][0])
    loaded = load_model(tmp_path / "run" / "model.keras")
    assert loaded.get_layer("backbone").get_layer("tiny_conv").filters == 6
    with pytest.raises(ValueError, match="has no option 'depth'"):
        build_backbone("tiny_test", depth=3)
    with pytest.raises(ValueError, match="at least 8 pixels"):
        build_backbone("tiny_test", input_size=4)


def test_load_backbone_weights_checks_then_loads(tmp_path):
    source = build_backbone("compact", **TINY)
    path = tmp_path / "compact.weights.h5"
    source.save_weights(path)
    target = build_backbone("compact", **TINY)
    assert load_backbone_weights(target, path) is target
    for a, b in zip(target.get_weights(), source.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    wider = build_backbone("compact", **{**TINY, "widths": [4, 8]})
    before = [w.copy() for w in wider.get_weights()]
    with pytest.raises(WeightsError, match="does not fit"):
        load_backbone_weights(wider, path)
    for a, b in zip(wider.get_weights(), before, strict=True):  # left as it was
        np.testing.assert_array_equal(a, b)
