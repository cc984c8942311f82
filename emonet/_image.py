"""Image helpers shared by the data and features stages: read a file as grayscale,
convert any image array to grayscale uint8, cut a face crop to 48x48.

A bottom module: it imports nothing of emonet but the constants, so ``emonet.data``
and ``emonet.features`` both use it without importing each other.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from emonet._constants import FACE_SIZE

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")

#: Shortest side, in pixels, of an image taken as a face crop. Below it a face has eyes
#: of one or two pixels: nothing an expression could be read from.
MIN_FACE_SIZE = 16

# Bit depths that cameras and scanners store in 16-bit containers.
_BIT_DEPTHS = (8, 10, 12, 14, 16)


class ImageError(ValueError):
    """One image that cannot be used; pipelines skip it, count it and report it.

    The message says what is wrong with the image; the caller names the file.
    """


def read_grayscale(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file of any size, colour or bit depth as 2-D uint8 grayscale.

    Raises
    ------
    ImageError
        If the file is missing, empty, not an image OpenCV can decode, or holds values
        that :func:`to_grayscale_uint8` refuses.
    """
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise ImageError(f"cannot read file: {error.strerror or error}") from None
    if data.size == 0:
        raise ImageError("empty file")
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error:  # some damaged headers raise instead of returning None
        image = None
    if image is None:
        raise ImageError("not a decodable image")
    return to_grayscale_uint8(image)


def _integer_to_uint8(image: np.ndarray) -> np.ndarray:
    if image.size and image.min() < 0:
        raise ImageError(f"negative pixel values in a {image.dtype} image")
    top = int(image.max()) if image.size else 0
    bits = next((b for b in _BIT_DEPTHS if top < 2**b), None)
    if bits is None:
        raise ImageError(
            f"pixel values up to {top} in a {image.dtype} image: more than 16 bits per "
            "channel is not supported"
        )
    if bits == 8:
        return image.astype(np.uint8)
    # scale by the depth the values use: 12-bit data in a 16-bit file spans 0..4095
    return np.rint(image * (255.0 / (2**bits - 1))).astype(np.uint8)


def _float_to_uint8(image: np.ndarray) -> np.ndarray:
    if not np.isfinite(image).all():
        raise ImageError("NaN or infinite pixel values")
    low, high = float(image.min()), float(image.max())
    if low < 0.0 or high > 1.0:
        raise ImageError(
            f"float pixel values must lie in [0, 1], got [{low:g}, {high:g}]; pass images "
            "of 0..255 values as uint8"
        )
    return np.rint(image.astype(np.float64) * 255.0).astype(np.uint8)  # float16 would round


def to_grayscale_uint8(image: np.ndarray) -> np.ndarray:
    """Convert a gray or colour image array to 2-D uint8 grayscale.

    Values are mapped by type: uint8 stays as it is; other integer images (16-bit
    files, integer arrays) are scaled from the smallest of 8, 10, 12, 14 or 16 bits
    that holds their largest value, so 12-bit data stored in 16 bits spans 0..255;
    float images must lie in [0, 1] (scikit-image's convention) and are scaled by 255.
    Colour arrays are taken in OpenCV's BGR(A) order; the luma weights make the
    difference from RGB small. A second channel of two is alpha and is dropped.

    Parameters
    ----------
    image : (H, W), (H, W, 1), (H, W, 2), (H, W, 3) or (H, W, 4) array_like

    Returns
    -------
    (H, W) ndarray of uint8

    Raises
    ------
    ImageError
        A ValueError naming what is wrong: an empty array, another shape, boolean or
        complex values, negative or more than 16-bit integers, NaN, or floats outside
        [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from emonet._image import to_grayscale_uint8
    >>> to_grayscale_uint8(np.array([[0.0, 0.5, 1.0]])).tolist()
    [[0, 128, 255]]
    >>> to_grayscale_uint8(np.array([[0, 4095]], np.uint16)).tolist()  # 12-bit data
    [[0, 255]]
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)):
        raise ImageError(
            f"unsupported image shape {image.shape}; expected (H, W) or (H, W, C) with "
            "1 to 4 channels"
        )
    if image.size == 0:
        raise ImageError(f"empty image of shape {image.shape}")
    if image.dtype == np.uint8:
        pass
    elif image.dtype.kind in "iu":
        image = _integer_to_uint8(image)
    elif image.dtype.kind == "f":
        image = _float_to_uint8(image)
    else:
        raise ImageError(f"unsupported pixel type {image.dtype}; expected integers or floats")
    if image.ndim == 3:
        channels = image.shape[2]
        if channels in (1, 2):
            image = image[:, :, 0]
        else:
            code = cv2.COLOR_BGR2GRAY if channels == 3 else cv2.COLOR_BGRA2GRAY
            image = cv2.cvtColor(np.ascontiguousarray(image), code)
    return np.ascontiguousarray(image)


def resize_face(image: np.ndarray, size: int = FACE_SIZE) -> np.ndarray:
    """Centre-crop a 2-D uint8 face crop to a square and resize it to ``size`` pixels.

    Raises
    ------
    ImageError
        If the image is under :data:`MIN_FACE_SIZE` pixels on a side.
    """
    h, w = image.shape
    if (h, w) == (size, size):
        return image
    if min(h, w) < MIN_FACE_SIZE:
        raise ImageError(
            f"{w}x{h} pixels: too small for a face crop (at least {MIN_FACE_SIZE}x{MIN_FACE_SIZE})"
        )
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = image[top : top + side, left : left + side]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=interpolation)


def read_face(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file taken as a face crop: its centred square, as 48x48 uint8 gray.

    Raises
    ------
    ImageError
        If the file cannot be read as an image, or is too small for a face.
    """
    return resize_face(read_grayscale(path))
