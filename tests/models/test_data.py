"""The tf.data pipeline: structure, one-hot targets, class weights, augmentation per epoch."""

from __future__ import annotations

import numpy as np
import pytest

from emonet import FEATURE_SIZE
from emonet.features import FeatureSet
from emonet.models import AugmentConfig, balanced_class_weights, make_dataset


def test_batches_have_the_model_inputs_and_one_hot_targets(train_set):
    ds = make_dataset(train_set, use_features=True, batch_size=32)
    inputs, targets = next(iter(ds))
    assert set(inputs) == {"face", "features"}
    assert inputs["face"].shape == (32, 48, 48, 1) and inputs["face"].dtype.name == "float32"
    assert inputs["features"].shape == (32, FEATURE_SIZE)
    np.testing.assert_array_equal(inputs["face"].numpy()[..., 0], train_set.images[:32])
    np.testing.assert_array_equal(targets.numpy().argmax(1), train_set.labels[:32])
    assert sum(len(t) for _, t in ds) == len(train_set)


def test_pixels_only_and_unlabelled(val_set):
    inputs = next(iter(make_dataset(val_set, use_features=False, labels=False, batch_size=8)))
    assert set(inputs) == {"face"}


def test_shuffled_augmented_batches_change_between_epochs(train_set):
    ds = make_dataset(
        train_set,
        use_features=True,
        batch_size=16,
        shuffle=True,
        augment=AugmentConfig(),
        seed=0,
        drop_remainder=True,
    )
    first = next(iter(ds))[0]["face"].numpy()
    second = next(iter(ds))[0]["face"].numpy()
    assert not np.array_equal(first, second)
    assert sum(1 for _ in ds) == len(train_set) // 16


def test_class_weights_are_balanced(train_set):
    labels = np.array([0] * 6 + [1] * 2 + [3] * 4)
    weights = balanced_class_weights(labels)
    assert weights[1] == pytest.approx(12 / (3 * 2)) and weights[2] == 0
    np.testing.assert_allclose(np.bincount(labels, weights[labels], 7)[[0, 1, 3]], 4)
    ds = make_dataset(
        train_set,
        use_features=False,
        batch_size=64,
        class_weights=balanced_class_weights(train_set.labels),
    )
    _, targets, sample_weights = next(iter(ds))
    expected = balanced_class_weights(train_set.labels)[targets.numpy().argmax(1)]
    np.testing.assert_allclose(sample_weights.numpy(), expected, rtol=1e-6)


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
