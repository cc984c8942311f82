"""Image arrays as faces: emonet._image, the helpers the data and features stages share."""

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from emonet._image import ImageError, read_face, resize_face, to_grayscale_uint8
from emonet.data import Dataset


@pytest.fixture(scope="module")
def face(val_files):
    return cv2.imread(str(val_files[0][0]), cv2.IMREAD_GRAYSCALE)


def test_uint8_gray_and_colour(face):
    np.testing.assert_array_equal(to_grayscale_uint8(face), face)
    bgr = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)
    np.testing.assert_array_equal(to_grayscale_uint8(bgr), face)
    bgra = cv2.cvtColor(face, cv2.COLOR_GRAY2BGRA)
    np.testing.assert_array_equal(to_grayscale_uint8(bgra), face)
    gray_alpha = np.dstack([face, np.full_like(face, 255)])
    np.testing.assert_array_equal(to_grayscale_uint8(gray_alpha), face)


def test_float_faces_in_0_1_are_scaled_by_255(face):
    np.testing.assert_array_equal(to_grayscale_uint8(face / 255.0), face)
    np.testing.assert_array_equal(to_grayscale_uint8((face / 255.0).astype(np.float32)), face)


@pytest.mark.parametrize("bits", [8, 10, 12, 14, 16])
def test_deep_integer_faces_are_scaled_by_their_bit_depth(face, bits):
    deep = np.rint(face * ((2**bits - 1) / 255)).astype(np.uint16)
    deep[0, 0] = 2**bits - 1  # a full-scale pixel, so that the depth shows
    expected = face.copy()
    expected[0, 0] = 255
    np.testing.assert_array_equal(to_grayscale_uint8(deep), expected)


def test_integer_arrays_of_0_255_are_taken_as_they_are(face):
    np.testing.assert_array_equal(to_grayscale_uint8(face.astype(np.int64)), face)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.full((48, 48), 1.5), r"float pixel values must lie in \[0, 1\], got \[1.5, 1.5\]"),
        (np.full((48, 48), 200.0), "pass images of 0..255 values as uint8"),
        (np.full((48, 48), np.nan), "NaN or infinite"),
        (np.full((48, 48), -1, np.int16), "negative pixel values"),
        (np.full((48, 48), 70000, np.int32), "more than 16 bits"),
        (np.zeros((48, 48), bool), "unsupported pixel type bool"),
        (np.zeros((48, 48), complex), "unsupported pixel type complex128"),
        (np.zeros((0, 48), np.uint8), "empty image"),
        (np.zeros(48, np.uint8), "unsupported image shape"),
        (np.zeros((48, 48, 5), np.uint8), "unsupported image shape"),
    ],
)
def test_values_that_cannot_be_a_face_are_refused_by_name(image, message):
    with pytest.raises(ImageError, match=message):
        to_grayscale_uint8(image)
    assert issubclass(ImageError, ValueError)


def test_tiny_crops_are_refused(face):
    with pytest.raises(ImageError, match="1x1 pixels: too small for a face crop"):
        resize_face(face[:1, :1])
    assert resize_face(face[:16, :20]).shape == (48, 48)


def test_read_face_names_what_is_wrong(tmp_path, face):
    (tmp_path / "e.png").write_bytes(b"")
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    cv2.imwrite(str(tmp_path / "f.png"), face)
    with pytest.raises(ImageError, match="empty file"):
        read_face(tmp_path / "e.png")
    with pytest.raises(ImageError, match="not a decodable image"):
        read_face(tmp_path / "x.png")
    with pytest.raises(ImageError, match="cannot read file"):
        read_face(tmp_path / "missing.png")
    np.testing.assert_array_equal(read_face(tmp_path / "f.png"), face)


_DTYPES = st.sampled_from(
    [np.uint8, np.uint16, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64]
)


_SHAPES = st.one_of(
    hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
    hnp.array_shapes(min_dims=3, max_dims=3, max_side=6),
)


@given(image=hnp.arrays(_DTYPES, _SHAPES))
def test_any_array_is_converted_or_refused_by_one_line(image):
    try:
        gray = to_grayscale_uint8(image)
    except ImageError as error:
        assert str(error) and "\n" not in str(error)
    else:
        assert gray.shape == image.shape[:2] and gray.dtype == np.uint8


@given(
    image=hnp.arrays(
        st.sampled_from([np.float16, np.float32, np.float64]),
        hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
        elements=st.floats(0, 1, width=16),
    )
)
def test_floats_in_0_1_are_scaled_exactly(image):
    expected = np.rint(image.astype(np.float64) * 255)
    np.testing.assert_array_equal(to_grayscale_uint8(image), expected)


@given(
    image=hnp.arrays(
        st.sampled_from([np.uint8, np.uint16, np.int16, np.int64]),
        hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
        elements=st.integers(0, 255),
    )
)
def test_integers_up_to_255_stay_as_they_are(image):
    np.testing.assert_array_equal(to_grayscale_uint8(image), image)


def test_dataset_refuses_values_a_cast_would_change():
    with pytest.raises(ValueError, match="uint8"):
        Dataset(np.full((1, 48, 48), 0.5), [0], [""], ["a"])
    with pytest.raises(ValueError, match="uint8"):
        Dataset(np.full((1, 48, 48), 300), [0], [""], ["a"])
    with pytest.raises(ValueError, match=r"labels must lie in -1\.\.6"):
        Dataset(np.zeros((1, 48, 48), np.uint8), [7], [""], ["a"])
    assert len(Dataset(np.full((1, 48, 48), 200, np.int64), [-1], [""], ["a"])) == 1
    assert len(Dataset([], [], [], [])) == 0
