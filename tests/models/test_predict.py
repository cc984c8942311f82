"""Predictions of a model (from a feature set or from face crops), the old name of
predict_crops, the names that left emonet.models, and figures."""

from __future__ import annotations

import dataclasses

import matplotlib
import numpy as np
import pytest

import emonet._plotting
import emonet.models
from emonet.features import mirror_batch
from emonet.models import (
    FACE_INPUT,
    FEATURES_INPUT,
    ModelConfig,
    build_model,
    load_model,
    plot_architecture,
    plot_confusion_matrix,
    predict_crops,
    predict_faces,
    predict_proba,
    save_model,
)
from tests.models.conftest import TINY, WITH_FEATURES

PIXELS_ONLY = ModelConfig("compact", use_features=False, backbone_options=TINY, head_units=(16,))


@pytest.fixture(scope="module")
def pixels_model():
    return build_model(PIXELS_ONLY)


def test_predict_proba_is_predict_crops_on_the_set(features_model, val_set):
    probabilities = predict_proba(features_model, val_set, batch_size=32)
    assert probabilities.shape == (len(val_set), 7) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(
        probabilities, predict_crops(features_model, val_set.images, val_set.features), atol=1e-6
    )
    # the model as Keras runs it, its inputs by name
    inputs = {FACE_INPUT: val_set.images[:5, :, :, None], FEATURES_INPUT: val_set.features[:5]}
    np.testing.assert_allclose(
        probabilities[:5], features_model.predict(inputs, verbose=0), atol=1e-6
    )


def test_predict_crops_computes_the_features_it_needs(features_model, val_set):
    # the test set's features were made by FeatureExtractor().transform on these faces
    computed = predict_crops(features_model, val_set.images[:6])
    given = predict_crops(features_model, val_set.images[:6], val_set.features[:6])
    np.testing.assert_allclose(computed, given, atol=1e-6)


def test_tta_averages_each_face_and_its_mirror(features_model, val_set):
    images, features = val_set.images[:8], val_set.features[:8]
    mirrored = predict_crops(features_model, *mirror_batch(images, features))
    averaged = (predict_crops(features_model, images, features) + mirrored) / 2
    np.testing.assert_allclose(
        predict_crops(features_model, images, features, tta=True), averaged, atol=1e-6
    )
    np.testing.assert_allclose(
        predict_proba(features_model, val_set, tta=True)[:8], averaged, atol=1e-6
    )


def test_a_model_without_features_reads_faces_only(pixels_model, val_set):
    faces = val_set.images[:4]
    expected = pixels_model.predict({"face": faces[..., None]}, verbose=0)
    np.testing.assert_allclose(predict_crops(pixels_model, faces), expected, atol=1e-6)
    # features are ignored; a channel axis of 1 is accepted
    np.testing.assert_allclose(
        predict_crops(pixels_model, faces[..., None], np.zeros((1, 3))), expected, atol=1e-6
    )
    assert predict_proba(pixels_model, val_set).shape == (len(val_set), 7)


def test_no_faces_no_rows(features_model):
    empty = predict_crops(features_model, np.zeros((0, 48, 48), np.uint8))
    assert empty.shape == (0, 7) and empty.dtype == np.float32


@pytest.mark.parametrize(
    ("images", "features", "message"),
    [
        (np.zeros((2, 48, 48), np.float32), None, "expected uint8 faces"),
        (np.zeros((2, 64, 64), np.uint8), None, r"48x48 grayscale faces.*\(2, 64, 64\)"),
        (np.zeros((48, 48), np.uint8), None, "shape"),
        (np.zeros((2, 48, 48), np.uint8), np.zeros((3, 2728)), r"shape \(2, 2728\), got \(3, "),
        (np.zeros((2, 48, 48), np.uint8), np.zeros((2, 136)), "one row of 2728 values"),
    ],
)
def test_bad_faces_and_features_are_refused_by_name(features_model, images, features, message):
    with pytest.raises(ValueError, match=message):
        predict_crops(features_model, images, features)


def test_a_loaded_model_refuses_features_of_other_settings(features_model, val_set, tmp_path):
    path = save_model(features_model, tmp_path / "m.keras", model_config=WITH_FEATURES)
    loaded = load_model(path)
    np.testing.assert_allclose(
        predict_proba(loaded, val_set), predict_proba(features_model, val_set), atol=1e-6
    )
    other = dataclasses.replace(val_set, attrs={**val_set.attrs, "hog_orientations": 9})
    with pytest.raises(ValueError, match="orientations=9"):
        predict_proba(loaded, other)


@pytest.fixture
def user_backend():
    """The user's matplotlib backend, which drawing must leave alone."""
    before = matplotlib.get_backend()
    yield before
    assert matplotlib.get_backend() == before


def test_figures_leave_the_users_backend_alone(user_backend, tmp_path):
    assert plot_confusion_matrix is emonet._plotting.plot_confusion_matrix
    confusion = np.diag([5, 1, 2, 9, 3, 4, 6])
    assert plot_confusion_matrix(confusion, tmp_path / "c.png", title="t").stat().st_size > 0
    plot_architecture(WITH_FEATURES, tmp_path / "a.png", use_keras=False)
    assert (tmp_path / "a.png").stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "c.png"]  # no leftovers


def test_predict_faces_is_predict_crops_and_warns(pixels_model, val_set):
    faces = val_set.images[:3]
    with pytest.warns(DeprecationWarning, match="predict_faces is deprecated.*predict_crops"):
        old = predict_faces(pixels_model, faces, None, 2, tta="flip")
    np.testing.assert_array_equal(old, predict_crops(pixels_model, faces, tta="flip"))


@pytest.mark.parametrize(
    ("name", "home"),
    [
        ("train", "emonet.training"),
        ("TrainingConfig", "emonet.training"),
        ("mirror_batch", "emonet.features"),
        ("evaluate_predictions", "emonet.predictions"),
    ],
)
def test_a_moved_name_says_where_it_went(name, home):
    with pytest.raises(AttributeError, match=rf"emonet.models.{name} moved to {home}.{name}"):
        getattr(emonet.models, name)
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        emonet.models.no_such_name  # noqa: B018
    assert not hasattr(emonet.models, name)
