"""The input pipeline: structure, one-hot targets, class weights, augmentation per epoch,
the same batches from FaceBatches and tf.data, padding and shards for data parallelism."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from emonet import FEATURE_SIZE
from emonet.features import FeatureSet
from emonet.training import (
    PIPELINES,
    AugmentConfig,
    FaceBatches,
    balanced_class_weights,
    make_dataset,
    mixup_batch,
)

ON_TF = keras.backend.backend() == "tensorflow"
# the pipelines this backend has
BACKEND_PIPELINES = [p for p in PIPELINES if p != "auto" and (ON_TF or p != "tf")]


def _numpy(value):
    return keras.ops.convert_to_numpy(value)


@pytest.mark.parametrize("pipeline", BACKEND_PIPELINES)
def test_batches_have_the_model_inputs_and_one_hot_targets(train_set, pipeline):
    ds = make_dataset(train_set, use_features=True, batch_size=32, pipeline=pipeline)
    inputs, targets = next(iter(ds))
    assert set(inputs) == {"face", "features"}
    assert inputs["face"].shape == (32, 48, 48, 1) and inputs["face"].dtype.name == "float32"
    assert inputs["features"].shape == (32, FEATURE_SIZE)
    np.testing.assert_array_equal(_numpy(inputs["face"])[..., 0], train_set.images[:32])
    np.testing.assert_array_equal(_numpy(targets).argmax(1), train_set.labels[:32])
    assert sum(len(t) for _, t in ds) == len(train_set)


def test_pixels_only_and_unlabelled(val_set):
    inputs = next(iter(make_dataset(val_set, use_features=False, labels=False, batch_size=8)))
    assert set(inputs) == {"face"}


def test_auto_pipeline_is_tf_data_on_tensorflow_only(val_set):
    ds = make_dataset(val_set, use_features=False, batch_size=8)
    assert isinstance(ds, FaceBatches) == (not ON_TF)
    assert isinstance(make_dataset(val_set, use_features=False, pipeline="py"), FaceBatches)
    with pytest.raises(ValueError, match="unknown pipeline 'grain'"):
        make_dataset(val_set, use_features=False, pipeline="grain")


def _augmented(train_set, **kwargs) -> FaceBatches:
    settings = {"batch_size": 16, "seed": 0, **kwargs}
    return FaceBatches(
        train_set,
        use_features=True,
        shuffle=True,
        augment=AugmentConfig(),
        drop_remainder=True,
        **settings,
    )


def test_batches_depend_on_seed_epoch_and_index_only(train_set):
    batches = _augmented(train_set)
    assert len(batches) == len(train_set) // 16
    later = batches[2]  # asked for first, as a worker may
    first = batches[0]
    again = _augmented(train_set)
    np.testing.assert_array_equal(again[0][0]["face"], first[0]["face"])
    np.testing.assert_array_equal(again[2][0]["features"], later[0]["features"])
    # the features are those of the warped faces, not the originals
    assert not np.array_equal(first[0]["features"], train_set.features[batches.indices(0)[0]])
    batches.on_epoch_end()
    assert batches.epoch == 1
    assert not np.array_equal(batches[0][0]["face"], first[0]["face"])
    assert not np.array_equal(_augmented(train_set, seed=None)[0][0]["face"], first[0]["face"])
    with pytest.raises(IndexError):
        batches[len(batches)]


@pytest.mark.skipif(not ON_TF, reason="tf.data needs the TensorFlow backend")
def test_tf_data_serves_the_same_batches_as_face_batches(train_set):
    weights = balanced_class_weights(train_set.labels)
    ds = make_dataset(
        train_set,
        use_features=True,
        batch_size=64,
        shuffle=True,
        augment=AugmentConfig(),
        class_weights=weights,
        seed=3,
        drop_remainder=True,
        pipeline="tf",
        workers=2,
    )
    reference = _augmented(train_set, batch_size=64, class_weights=weights, seed=3)
    for epoch in (0, 1):  # train() sets the epoch; the dataset reads it when iterated
        ds.face_batches.epoch = reference.epoch = epoch
        served = list(ds)
        assert len(served) == len(reference)
        for index, (inputs, targets, sample_weights) in enumerate(served):
            want_inputs, want_targets, want_weights = reference[index]
            for key in ("face", "features"):
                np.testing.assert_array_equal(_numpy(inputs[key]), want_inputs[key])
            np.testing.assert_array_equal(_numpy(targets), want_targets)
            np.testing.assert_array_equal(_numpy(sample_weights), want_weights)


def test_padding_and_shards_split_a_batch_into_equal_parts(val_set):
    # 84 faces in batches of 32: the last batch of 20 is padded to 24 for 8 devices
    whole = FaceBatches(val_set, use_features=False, batch_size=32, pad_to=8)
    inputs, targets, weights = whole[2]
    assert len(targets) == 24
    np.testing.assert_array_equal(weights, [1.0] * 20 + [0.0] * 4)
    np.testing.assert_array_equal(targets[:20].argmax(1), val_set.labels[64:])
    parts = [
        FaceBatches(val_set, use_features=False, batch_size=32, pad_to=8, shard=(i, 4))[2]
        for i in range(4)
    ]
    np.testing.assert_array_equal(np.concatenate([p[0]["face"] for p in parts]), inputs["face"])
    np.testing.assert_array_equal(np.concatenate([p[2] for p in parts]), weights)
    with pytest.raises(ValueError, match="multiple of the shard count"):
        FaceBatches(val_set, use_features=False, pad_to=2, shard=(0, 3))


@pytest.mark.parametrize("pipeline", BACKEND_PIPELINES)
def test_class_weights_are_balanced(train_set, pipeline):
    labels = np.array([0] * 6 + [1] * 2 + [3] * 4)
    weights = balanced_class_weights(labels)
    assert weights[1] == pytest.approx(12 / (3 * 2)) and weights[2] == 0
    np.testing.assert_allclose(np.bincount(labels, weights[labels], 7)[[0, 1, 3]], 4)
    ds = make_dataset(
        train_set,
        use_features=False,
        batch_size=64,
        class_weights=balanced_class_weights(train_set.labels),
        pipeline=pipeline,
    )
    _, targets, sample_weights = next(iter(ds))
    expected = balanced_class_weights(train_set.labels)[_numpy(targets).argmax(1)]
    np.testing.assert_allclose(_numpy(sample_weights), expected, rtol=1e-6)


def test_unlabelled_faces_cannot_train(val_set):
    labels = val_set.labels.copy()
    labels[3] = -1
    unlabelled = FeatureSet(val_set.images, val_set.features, labels, val_set.usage, val_set.ids)
    with pytest.raises(ValueError, match="1 faces have no label"):
        make_dataset(unlabelled, use_features=False)
    short = FeatureSet(
        val_set.images, val_set.features[:, :100], val_set.labels, val_set.usage, val_set.ids
    )
    with pytest.raises(ValueError, match="features have 100 values; the model needs 2728"):
        make_dataset(short, use_features=True)


@pytest.mark.skipif(not ON_TF, reason="tf.data runs on the TensorFlow backend only")
def test_tf_data_serves_the_same_mixup_and_soft_target_batches(train_set):
    teacher = np.random.default_rng(0).dirichlet(np.ones(7), len(train_set)).astype(np.float32)
    options = {"targets": teacher, "mixup": 0.4, "seed": 5, "batch_size": 32}
    ds = make_dataset(
        train_set,
        use_features=True,
        shuffle=True,
        augment=AugmentConfig(),
        drop_remainder=True,
        pipeline="tf",
        **options,
    )
    reference = _augmented(train_set, **options)
    served = list(ds)
    assert len(served) == len(reference)
    for index, (inputs, targets) in enumerate(served):
        want_inputs, want_targets = reference[index]
        for key in ("face", "features"):
            np.testing.assert_array_equal(_numpy(inputs[key]), want_inputs[key])
        np.testing.assert_array_equal(_numpy(targets), want_targets)


def test_soft_targets_replace_the_one_hot_labels(train_set):
    teacher = np.random.default_rng(1).dirichlet(np.ones(7), len(train_set)).astype(np.float32)
    batches = FaceBatches(train_set, use_features=False, batch_size=16, targets=teacher)
    _, targets = batches[1]
    np.testing.assert_array_equal(targets, teacher[16:32])
    with pytest.raises(ValueError, match=r"one row of 7 probabilities per face"):
        FaceBatches(train_set, use_features=False, targets=teacher[:10])
    with pytest.raises(ValueError, match="need labels"):
        FaceBatches(train_set, use_features=False, labels=False, mixup=0.2)


def test_mixup_blends_faces_features_and_targets_of_pairs():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (32, 48, 48), dtype=np.uint8)
    features = rng.normal(size=(32, FEATURE_SIZE)).astype(np.float32)
    targets = np.eye(7, dtype=np.float32)[np.arange(32) % 7]
    out_images, out_features, out_targets = mixup_batch(
        images, features, targets, 1.0, np.random.default_rng(4)
    )
    draws = np.random.default_rng(4)  # the same draws: lam per face, then the partners
    lam, partner = draws.beta(1.0, 1.0, 32), draws.permutation(32)
    for values, mixed in ((images, out_images), (features, out_features), (targets, out_targets)):
        weight = lam.reshape((32,) + (1,) * (values.ndim - 1))
        want = weight * values + (1 - weight) * values[partner]
        np.testing.assert_allclose(mixed, want, rtol=1e-5, atol=1e-4)
    assert out_images.dtype == np.float32
    with pytest.raises(ValueError, match="alpha must be > 0"):
        mixup_batch(images, None, targets, 0.0, rng)


def test_face_batches_mix_up_their_faces_reproducibly(train_set):
    def batches(mixup):
        return FaceBatches(
            train_set, use_features=True, batch_size=32, shuffle=True, seed=2, mixup=mixup
        )

    raw, out = batches(0.0).batch(0), batches(1.0).batch(0)
    assert out["images"].dtype == np.float32 and not np.array_equal(out["images"], raw["images"])
    np.testing.assert_array_equal(out["labels"], raw["labels"])
    targets = out["targets"]
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, rtol=1e-6)
    assert ((targets > 0).sum(axis=1) <= 2).all()  # two faces' labels at most
    assert (targets[np.arange(32), raw["labels"]] > 0).all()  # the face's own among them
    np.testing.assert_array_equal(batches(1.0).batch(0)["images"], out["images"])
