import numpy as np
import pytest

from emonet import HOG_FEATURES
from emonet.features import BLOCK_NORMS, sliding_hog, sliding_hog_reference


def test_equals_skimage_loop_bit_for_bit_on_real_faces(val_faces):
    images, _ = val_faces
    assert len(images) >= 200
    fast = sliding_hog(images)
    reference = np.stack([sliding_hog_reference(image) for image in images])
    assert fast.shape == (len(images), HOG_FEATURES) == (len(images), 2592)
    assert fast.dtype == np.float64
    np.testing.assert_array_equal(fast, reference)


@pytest.mark.parametrize("block_norm", BLOCK_NORMS)
def test_every_block_norm_matches_skimage(val_faces, block_norm):
    images = val_faces[0][::10]
    fast = sliding_hog(images, block_norm=block_norm)
    reference = np.stack([sliding_hog_reference(i, block_norm=block_norm) for i in images])
    np.testing.assert_array_equal(fast, reference)


@pytest.mark.parametrize(
    ("shape", "window", "step", "orientations", "cell"),
    [
        ((48, 48), 16, 8, 9, 4),
        ((40, 56), 24, 6, 7, 8),
        ((30, 30), 30, 10, 12, 6),
        ((48, 48), 24, 12, 130, 8),  # past int8 bins and numpy's 128-element pairwise block
    ],
)
def test_other_geometries_match_skimage(val_faces, shape, window, step, orientations, cell):
    import cv2

    images = np.stack([cv2.resize(i, shape[::-1]) for i in val_faces[0][::25]])
    params = dict(window=window, step=step, orientations=orientations, pixels_per_cell=cell)
    fast = sliding_hog(images, **params)
    reference = np.stack([sliding_hog_reference(i, **params) for i in images])
    np.testing.assert_array_equal(fast, reference)


def test_float_images_take_the_general_path_with_the_same_result(val_faces):
    images = val_faces[0][:20]
    np.testing.assert_array_equal(sliding_hog(images.astype(np.float32)), sliding_hog(images))
    noisy = images + np.random.default_rng(0).normal(0, 0.3, images.shape)
    np.testing.assert_array_equal(
        sliding_hog(noisy), np.stack([sliding_hog_reference(i) for i in noisy])
    )


def test_batch_size_and_single_image_do_not_change_results(val_faces):
    images = val_faces[0][:37]
    full = sliding_hog(images)
    np.testing.assert_array_equal(sliding_hog(images, batch_size=5), full)
    single = sliding_hog(images[3])
    assert single.shape == (2592,)
    np.testing.assert_array_equal(single, full[3])


def test_flat_and_constant_images_give_zero_histograms():
    flat = np.full((2, 48, 48), 77, np.uint8)
    assert not sliding_hog(flat).any()


def test_windows_narrower_than_a_cell_contribute_nothing():
    # 48 px, window 24, step 6: positions 0..42; the one at 42 is 6 px wide (< 8)
    face = np.random.default_rng(1).integers(0, 256, (48, 48), np.uint8)
    assert sliding_hog(face).size == 18 * 18 * 8


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"block_norm": "L3"}, "block_norm"),
        ({"window": 0}, "window"),
        ({"step": 2.5}, "step"),
        ({"orientations": -1}, "orientations"),
    ],
)
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sliding_hog(np.zeros((1, 48, 48), np.uint8), **kwargs)


def test_colour_images_are_rejected_with_advice():
    with pytest.raises(ValueError, match="grayscale"):
        sliding_hog(np.zeros((2, 48, 48, 3), np.uint8))
