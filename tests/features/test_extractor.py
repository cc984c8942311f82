import numpy as np
import pytest
from sklearn.base import clone

from emonet import FEATURE_SIZE
from emonet.features import FeatureExtractor, crop_faces, extract_landmarks, sliding_hog


def test_transform_is_landmarks_then_hog(val_faces):
    images = val_faces[0][:25]
    features = FeatureExtractor().transform(images)
    assert features.shape == (25, FEATURE_SIZE) == (25, 2728)
    assert features.dtype == np.float32
    np.testing.assert_array_equal(features[:, :136], extract_landmarks(images).reshape(25, 136))
    np.testing.assert_array_equal(features[:, 136:], sliding_hog(images).astype(np.float32))


def test_feature_names_describe_every_column():
    names = FeatureExtractor().get_feature_names_out()
    assert len(names) == 2728 == FeatureExtractor().n_features_out
    assert names[0] == "landmark0_x" and names[135] == "landmark67_y"
    assert names[136] == "hog_y0_x0_cell00_bin0"
    assert names[-1] == "hog_y36_x36_cell00_bin7"
    assert len(set(names)) == len(names)


def test_scikit_learn_conventions():
    extractor = FeatureExtractor(block_norm="L1")
    assert extractor.get_params()["block_norm"] == "L1"
    assert clone(extractor).get_params() == extractor.get_params()
    assert extractor.fit() is extractor and extractor.n_features_out_ == 2728


def test_parameters_change_the_features(val_faces):
    images = val_faces[0][:3]
    l2 = FeatureExtractor().transform(images)
    l1 = FeatureExtractor(block_norm="L1").transform(images)
    np.testing.assert_array_equal(l1[:, :136], l2[:, :136])
    assert not np.allclose(l1[:, 136:], l2[:, 136:])
    assert FeatureExtractor(orientations=9).transform(images).shape == (3, 136 + 18 * 18 * 9)


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.zeros((2, 64, 64), np.uint8), "48x48"),
        (np.zeros((2, 48, 48, 3), np.uint8), "48x48"),
        (np.zeros((2, 48, 48), np.float64), "uint8"),
    ],
)
def test_bad_images_are_explained(images, message):
    with pytest.raises(ValueError, match=message):
        FeatureExtractor().transform(images)


def test_bad_parameters_are_explained():
    with pytest.raises(ValueError, match="block_norm"):
        FeatureExtractor(block_norm="max").fit()


def test_an_empty_batch_gives_an_empty_array():
    """As scikit-learn transformers keep the number of rows: 0 faces, 0 rows."""
    for empty in (np.empty((0, 48, 48), np.uint8), []):
        features = FeatureExtractor().transform(empty)
        assert features.shape == (0, 2728) and features.dtype == np.float32
    landmarks, hog = FeatureExtractor().transform_parts([])
    assert landmarks.shape == (0, 68, 2) and hog.shape == (0, 2592)
    assert FeatureExtractor(orientations=9).transform([]).shape == (0, 136 + 18 * 18 * 9)
    faces, _ = crop_faces(np.full((120, 120), 128, np.uint8))  # a photo with no face
    assert FeatureExtractor().transform(faces).shape == (0, 2728)
