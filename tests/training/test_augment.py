"""Augmentation moves faces, landmarks and HOG together; the flip renumbers the points."""

from __future__ import annotations

import numpy as np
import pytest

from emonet import LANDMARK_FEATURES
from emonet.features import (
    FLIP_PERMUTATION,
    LANDMARK_PARTS,
    extract_landmarks,
    mirror_batch,
    sliding_hog,
    transform_landmarks,
    warp_faces,
)
from emonet.training import AugmentConfig, augment_batch, random_affine, random_erase


def test_flip_permutation_maps_left_to_right_and_is_an_involution():
    perm = FLIP_PERMUTATION
    assert sorted(perm) == list(range(68))
    np.testing.assert_array_equal(perm[perm], np.arange(68))
    for left, right in [("left_eye", "right_eye"), ("left_eyebrow", "right_eyebrow")]:
        assert set(perm[list(LANDMARK_PARTS[left])]) == set(LANDMARK_PARTS[right])
    # outer eye corners, jaw ends, mouth corners; the nose bridge stays
    assert perm[36] == 45 and perm[0] == 16 and perm[48] == 54
    assert all(perm[i] == i for i in (27, 28, 29, 30, 33, 51, 57, 62, 66))


def test_flip_matrix_mirrors_landmarks_and_renumbers_them():
    config = AugmentConfig(rotation=0, shear=0, zoom=0, flip=True)
    rng = np.random.default_rng(0)
    matrices, flipped = random_affine(64, config, rng)
    assert flipped.any() and not flipped.all()
    points = np.random.default_rng(1).uniform(0, 47, (64, 68, 2)).astype("float32")
    moved = transform_landmarks(points, matrices, flipped)
    i = int(np.argmax(flipped))
    np.testing.assert_allclose(moved[i, :, 0], 47 - points[i, FLIP_PERMUTATION, 0], atol=1e-4)
    np.testing.assert_allclose(moved[i, :, 1], points[i, FLIP_PERMUTATION, 1], atol=1e-4)
    j = int(np.argmin(flipped))
    np.testing.assert_allclose(moved[j], points[j], atol=1e-4)


def test_landmarks_move_with_the_pixels():
    # a bright dot lands where the matrix sends its coordinates
    config = AugmentConfig(rotation=10, shear=10, zoom=0.1, translate=0.1)
    matrices, flipped = random_affine(8, config, np.random.default_rng(3))
    images = np.zeros((8, 48, 48), np.uint8)
    images[:, 20, 30] = 255
    warped = warp_faces(images, matrices)
    spot = np.array([[np.unravel_index(np.argmax(w), w.shape)[::-1]] for w in warped])
    point = np.tile(np.array([[[30.0, 20.0]]]), (8, 68, 1))
    moved = transform_landmarks(point, matrices)  # no renumbering: all points are the dot
    np.testing.assert_allclose(moved[:, :1], spot, atol=1.0)


def test_transformed_landmarks_match_landmarks_found_again(val_set):
    """dlib on the warped face agrees with the moved landmarks, far better than unmoved."""
    faces = val_set.images[:40]
    original = val_set.landmarks[:40]
    config = AugmentConfig(rotation=10, shear=5, zoom=0.08, translate=0.05)
    matrices, flipped = random_affine(len(faces), config, np.random.default_rng(7))
    warped = warp_faces(faces, matrices)
    found = extract_landmarks(warped)
    moved = transform_landmarks(original, matrices, flipped)
    interocular = np.linalg.norm(found[:, 36] - found[:, 45], axis=1)
    moved_error = np.linalg.norm(moved - found, axis=2).mean(axis=1) / interocular
    unmoved_error = np.linalg.norm(original - found, axis=2).mean(axis=1) / interocular
    assert np.median(moved_error) < 0.12
    assert np.median(moved_error) < 0.5 * np.median(unmoved_error)


def test_flipped_landmarks_need_the_renumbering(val_set):
    faces, original = val_set.images[:40], val_set.landmarks[:40]
    config = AugmentConfig(rotation=0, shear=0, zoom=0, flip=True)
    matrices, flipped = random_affine(len(faces), config, np.random.default_rng(1))
    found = extract_landmarks(warp_faces(faces, matrices))[flipped]
    renumbered = transform_landmarks(original, matrices, flipped)[flipped]
    mirrored_only = transform_landmarks(original, matrices)[flipped]
    interocular = np.linalg.norm(found[:, 36] - found[:, 45], axis=1)[:, None]
    good = np.median(np.linalg.norm(renumbered - found, axis=2) / interocular)
    bad = np.median(np.linalg.norm(mirrored_only - found, axis=2) / interocular)
    assert good < 0.1 < 0.4 < bad


def test_full_mode_recomputes_hog_on_the_warped_face(val_set):
    faces, features = val_set.images[:16], val_set.features[:16]
    warped, out = augment_batch(faces, features, AugmentConfig(), np.random.default_rng(0))
    assert warped.dtype == np.uint8 and out.dtype == np.float32
    np.testing.assert_allclose(out[:, LANDMARK_FEATURES:], sliding_hog(warped), rtol=1e-6)
    assert not np.allclose(out[:, :LANDMARK_FEATURES], features[:, :LANDMARK_FEATURES])
    assert np.array_equal(features, val_set.features[:16])  # inputs untouched


def test_image_mode_keeps_the_hog_and_none_changes_nothing(val_set):
    faces, features = val_set.images[:8], val_set.features[:8]
    _, out = augment_batch(faces, features, AugmentConfig(mode="image"), np.random.default_rng(0))
    np.testing.assert_array_equal(out[:, LANDMARK_FEATURES:], features[:, LANDMARK_FEATURES:])
    same_faces, same = augment_batch(
        faces, features, AugmentConfig(mode="none"), np.random.default_rng(0)
    )
    assert same_faces is faces and same is features
    warped, none = augment_batch(faces, None, AugmentConfig(), np.random.default_rng(0))
    assert none is None and warped.shape == faces.shape


def test_mirror_batch_gives_the_features_of_the_mirrored_face(val_set):
    faces, features = val_set.images[:40], val_set.features[:40]
    mirrored, out = mirror_batch(faces, features)
    np.testing.assert_array_equal(mirrored, faces[:, :, ::-1])
    np.testing.assert_allclose(out[:, LANDMARK_FEATURES:], sliding_hog(mirrored), rtol=1e-6)
    # dlib on the mirrored face finds the mirrored, renumbered points
    found = extract_landmarks(mirrored)
    moved = out[:, :LANDMARK_FEATURES].reshape(-1, 68, 2)
    interocular = np.linalg.norm(found[:, 36] - found[:, 45], axis=1)[:, None]
    assert np.median(np.linalg.norm(moved - found, axis=2) / interocular) < 0.1
    # mirroring twice gives the face and its features back
    again, back = mirror_batch(mirrored, out)
    np.testing.assert_array_equal(again, faces)
    np.testing.assert_allclose(back, features, rtol=1e-5, atol=1e-4)
    assert mirror_batch(faces, None)[1] is None


def test_augment_config_checks():
    with pytest.raises(ValueError, match="unknown augmentation mode 'hog'"):
        AugmentConfig(mode="hog")
    with pytest.raises(ValueError, match="zoom must be < 1"):
        AugmentConfig(zoom=1.5)
    config = AugmentConfig(rotation=5, flip=False)
    assert AugmentConfig.from_config(config.get_config()) == config


def test_random_erasing_fills_one_rectangle_of_the_chosen_faces():
    faces = np.full((200, 48, 48), 7, np.uint8)
    erased = random_erase(faces, 0.5, np.random.default_rng(0))
    changed = erased != 7
    hit = changed.any(axis=(1, 2))
    assert 70 < hit.sum() < 130  # about half the faces
    for mask in changed[hit]:
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        box = (rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1)
        assert box <= 0.33 * 48 * 48 + 48  # within the largest area, up to rounding
        assert mask.sum() > 0.9 * box  # one filled rectangle (noise hits 7 one time in 256)
    np.testing.assert_array_equal(random_erase(faces, 0.0, np.random.default_rng(0)), faces)
    with pytest.raises(ValueError, match="erase is a probability"):
        AugmentConfig(erase=1.5)


def test_full_augmentation_computes_the_hog_of_the_erased_face(train_set):
    config = AugmentConfig(erase=1.0)
    images, features = augment_batch(
        train_set.images[:8], train_set.features[:8], config, np.random.default_rng(3)
    )
    np.testing.assert_allclose(
        features[:, LANDMARK_FEATURES:], sliding_hog(images), rtol=1e-5, atol=1e-6
    )
    warped_only, _ = augment_batch(
        train_set.images[:8], None, AugmentConfig(), np.random.default_rng(3)
    )
    assert (images != warped_only).any(axis=(1, 2)).all()  # every face was erased
