"""Face geometry: the features of moved faces, as training and test-time augmentation use
them (their other functions are tested with them: tests/training/test_augment.py,
tests/models/test_tta.py)."""

from __future__ import annotations

import numpy as np

from emonet import LANDMARK_FEATURES
from emonet.features import (
    FLIP_PERMUTATION,
    mirror_batch,
    sliding_hog,
    transform_landmarks,
    warp_faces,
    warp_features,
)


def _faces_and_features(n: int = 4):
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (n, 48, 48), dtype=np.uint8)
    landmarks = rng.uniform(5, 42, (n, 68, 2))
    features = np.concatenate([landmarks.reshape(n, -1), sliding_hog(faces)], axis=1)
    return faces, features.astype(np.float32), landmarks


def test_warp_features_moves_the_landmarks_and_keeps_or_recomputes_the_hog():
    faces, features, landmarks = _faces_and_features()
    shift = np.tile(np.array([[1.0, 0.0, 3.0], [0.0, 1.0, -2.0]]), (4, 1, 1))
    kept = warp_features(features, shift)
    moved = kept[:, :LANDMARK_FEATURES].reshape(4, 68, 2)
    np.testing.assert_allclose(moved, landmarks + [3.0, -2.0], atol=1e-4)
    np.testing.assert_array_equal(kept[:, LANDMARK_FEATURES:], features[:, LANDMARK_FEATURES:])
    assert kept is not features and kept.dtype == np.float32
    warped = warp_faces(faces, shift)
    again = warp_features(features, shift, faces=warped)
    np.testing.assert_allclose(again[:, LANDMARK_FEATURES:], sliding_hog(warped), rtol=1e-6)
    np.testing.assert_array_equal(again[:, :LANDMARK_FEATURES], kept[:, :LANDMARK_FEATURES])


def test_warp_features_renumbers_the_points_of_mirrored_faces():
    faces, features, landmarks = _faces_and_features()
    mirrored, expected = mirror_batch(faces, features)
    mirror = np.tile(np.array([[-1.0, 0.0, 47.0], [0.0, 1.0, 0.0]]), (4, 1, 1))
    flipped = np.ones(4, bool)
    got = warp_features(features, mirror, flipped, mirrored)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    points = got[:, :LANDMARK_FEATURES].reshape(4, 68, 2)
    np.testing.assert_allclose(points[:, :, 0], 47 - landmarks[:, FLIP_PERMUTATION, 0], atol=1e-4)
    np.testing.assert_allclose(points, transform_landmarks(landmarks, mirror, flipped), atol=1e-4)
