"""Test-time augmentation: zoomed faces carry their own features, and a prediction
averages the model's answers over exactly the views of its mode."""

from __future__ import annotations

import numpy as np
import pytest

from emonet import LANDMARK_FEATURES
from emonet.features import extract_landmarks, mirror_batch, scale_batch, sliding_hog
from emonet.models import (
    TTA_MODES,
    TTA_SCALES,
    predict_crops,
    predict_proba,
    tta_mode,
    tta_views,
)


def test_scale_batch_zooms_about_the_centre_with_the_features_of_the_zoomed_face(val_set):
    faces, features = val_set.images[:40], val_set.features[:40]
    zoomed, out = scale_batch(faces, features, 1.1)
    assert zoomed.shape == faces.shape and zoomed.dtype == np.uint8
    np.testing.assert_allclose(out[:, LANDMARK_FEATURES:], sliding_hog(zoomed), rtol=1e-6)
    # each landmark moves away from the centre by the zoom
    centre = (48 - 1) / 2
    before = features[:, :LANDMARK_FEATURES].reshape(-1, 68, 2)
    after = out[:, :LANDMARK_FEATURES].reshape(-1, 68, 2)
    np.testing.assert_allclose(after - centre, 1.1 * (before - centre), rtol=1e-5, atol=1e-4)
    # and dlib finds them there on the zoomed face
    found = extract_landmarks(zoomed)
    interocular = np.linalg.norm(found[:, 36] - found[:, 45], axis=1)[:, None]
    assert np.median(np.linalg.norm(after - found, axis=2) / interocular) < 0.1
    assert np.array_equal(features, val_set.features[:40])  # inputs untouched


def test_scale_batch_at_one_changes_nothing_and_refuses_a_scale_not_above_zero(val_set):
    faces, features = val_set.images[:4], val_set.features[:4]
    same_faces, same = scale_batch(faces, features, 1.0)
    assert same_faces is faces and same is features
    assert scale_batch(faces, None, 0.9)[1] is None
    with pytest.raises(ValueError, match="scale must be > 0, got 0"):
        scale_batch(faces, None, 0)


def test_tta_mode_reads_booleans_and_names():
    assert [tta_mode(v) for v in (None, False, True, *TTA_MODES)] == [
        "none",
        "none",
        "flip",
        *TTA_MODES,
    ]
    with pytest.raises(ValueError, match="one of none, flip, multiscale, got 'mirror'"):
        tta_mode("mirror")


def test_views_of_each_mode(val_set):
    faces, features = val_set.images[:6], val_set.features[:6]
    (alone,) = tta_views(faces, features, "none")
    assert alone[0] is faces and alone[1] is features
    flip = tta_views(faces, features, True)
    expected = mirror_batch(faces, features)
    np.testing.assert_array_equal(flip[1][0], expected[0])
    np.testing.assert_allclose(flip[1][1], expected[1])
    multiscale = tta_views(faces, features, "multiscale")
    assert len(multiscale) == 2 * len(TTA_SCALES) == 6
    assert multiscale[0][0] is faces  # the faces as they are come first
    scales = [1.0, *[s for s in TTA_SCALES if s != 1.0]]
    for i, scale in enumerate(scales):
        zoomed, mirrored = multiscale[2 * i], multiscale[2 * i + 1]
        np.testing.assert_array_equal(zoomed[0], scale_batch(faces, features, scale)[0])
        np.testing.assert_array_equal(mirrored[0], zoomed[0][:, :, ::-1])


@pytest.mark.parametrize("mode", ["flip", "multiscale"])
def test_prediction_averages_the_views(features_model, val_set, mode):
    images, features = val_set.images[:10], val_set.features[:10]
    each = [predict_crops(features_model, *view) for view in tta_views(images, features, mode)]
    expected = np.mean(each, axis=0)
    got = predict_crops(features_model, images, features, tta=mode)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # the batches a dataset is cut into change nothing
    np.testing.assert_allclose(
        predict_crops(features_model, images, features, batch_size=3, tta=mode), got, atol=1e-6
    )
    np.testing.assert_allclose(
        predict_proba(features_model, val_set, tta=mode)[:10], expected, atol=1e-6
    )
    # the views disagree, so the average is not the plain prediction
    assert not np.allclose(got, each[0], atol=1e-4)


def test_prediction_refuses_an_unknown_mode(features_model, val_set):
    with pytest.raises(ValueError, match="tta: expected True, False or one of"):
        predict_crops(features_model, val_set.images[:2], val_set.features[:2], tta="ten-crop")
