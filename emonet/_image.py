"""Image helpers shared by the data, features and recognize stages: decode a file within
a pixel budget, map any image array's values to uint8 (one rule for photos and crops),
read a file as grayscale, cut a face crop to 48x48.

A bottom module: it imports nothing of emonet but the constants, so ``emonet.data``
and ``emonet.features`` both use it without importing each other.
"""

from __future__ import annotations

import os
import re
import warnings

import cv2
import numpy as np

from emonet._constants import FACE_SIZE

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")

#: Shortest side, in pixels, of an image taken as a face crop. Below it a face has eyes
#: of one or two pixels: nothing an expression could be read from.
MIN_FACE_SIZE = 16

#: Most pixels an image file may hold. Its size is read from the file's header and a
#: larger image is refused before it is decoded: a 10,000x10,000 photo (300 MB as RGB)
#: fits; a 12,000x12,000 one, or a "decompression bomb" (a small file that decodes to
#: gigabytes), does not.
MAX_IMAGE_PIXELS = 100_000_000

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
        If the file is missing, empty, not an image OpenCV can decode, over
        :data:`MAX_IMAGE_PIXELS`, or holds values that :func:`to_grayscale_uint8` refuses.
    """
    return to_grayscale_uint8(decode_image(path, cv2.IMREAD_UNCHANGED))


def decode_image(path: str | os.PathLike[str], flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    """Decode an image file with OpenCV, refusing one over :data:`MAX_IMAGE_PIXELS` first.

    The size is read from the file's header (with Pillow, which reads no pixels) before
    anything is decoded, so a decompression bomb costs nothing. A file Pillow does not
    know is decoded, then measured.

    Parameters
    ----------
    path : str or path-like
    flags : int, default=cv2.IMREAD_UNCHANGED
        OpenCV's ``IMREAD_*`` flags; the array keeps the file's bit depth with
        ``IMREAD_UNCHANGED`` or ``IMREAD_ANYDEPTH``, and OpenCV's BGR(A) channel order.

    Returns
    -------
    ndarray
        As :func:`cv2.imdecode` gives it.

    Raises
    ------
    ImageError
        If the file cannot be read, is empty, is no image OpenCV can decode, or holds
        more than :data:`MAX_IMAGE_PIXELS` pixels. The message does not name the file.
    """
    size = _header_size(path)
    if size is not None:
        _check_pixels(*size)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise ImageError(f"cannot read file: {error.strerror or error}") from None
    if data.size == 0:
        raise ImageError("empty file")
    try:
        image = cv2.imdecode(data, flags)
    except cv2.error:  # some damaged headers raise instead of returning None
        image = None
    if image is None:
        raise ImageError("not a decodable image")
    _check_pixels(image.shape[1], image.shape[0])
    return image


def _header_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """Width and height from the file's header, or None when Pillow cannot tell."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            # Pillow warns from 89 megapixels on; the budget here is MAX_IMAGE_PIXELS
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return int(image.size[0]), int(image.size[1])
    except Image.DecompressionBombError as error:
        # Pillow refuses past twice its own limit, still from the header alone
        found = re.search(r"\((\d+) pixels\)", str(error))
        pixels = int(found.group(1)) if found else 2 * (Image.MAX_IMAGE_PIXELS or 0) + 1
        raise ImageError(_too_many_pixels(f"{pixels:,} pixels")) from None
    except Exception:  # not an image Pillow knows, or a damaged header: OpenCV decides
        return None


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageError(_too_many_pixels(f"{width}x{height} pixels ({width * height:,})"))


def _too_many_pixels(size: str) -> str:
    return (
        f"{size}, more than the {MAX_IMAGE_PIXELS:,} pixels emonet decodes; shrink the image first"
    )


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


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Map an image array's values to uint8, keeping its shape and channels.

    The one value rule of emonet for photos, frames and face crops: uint8 stays as it
    is; other integers (16-bit files, integer arrays) are scaled from the smallest of 8,
    10, 12, 14 or 16 bits that holds their largest value, so 12-bit data stored in 16
    bits spans 0..255; floats must lie in [0, 1] (scikit-image's convention) and are
    scaled by 255. The rule applies to the whole array: a batch of crops is scaled as one.

    Parameters
    ----------
    image : array_like of integers or floats, any shape

    Returns
    -------
    ndarray of uint8, the same shape

    Raises
    ------
    ImageError
        A ValueError naming what is wrong: boolean, complex or other non-number values,
        negative or more than 16-bit integers, NaN or infinite values, or floats outside
        [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from emonet._image import to_uint8
    >>> to_uint8(np.array([0.0, 0.5, 1.0])).tolist()
    [0, 128, 255]
    >>> to_uint8(np.array([0, 4095], np.uint16)).tolist()  # 12-bit data
    [0, 255]
    """
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    if image.dtype.kind not in "iuf":
        raise ImageError(f"unsupported pixel type {image.dtype}; expected integers or floats")
    if image.size == 0:
        return image.astype(np.uint8)
    if image.dtype.kind == "f":
        return _float_to_uint8(image)
    return _integer_to_uint8(image)


def to_grayscale_uint8(image: np.ndarray) -> np.ndarray:
    """Convert a gray or colour image array to 2-D uint8 grayscale.

    Values are mapped by :func:`to_uint8`: uint8 stays as it is; other integer images
    (16-bit files, integer arrays) are scaled from the smallest of 8, 10, 12, 14 or 16
    bits that holds their largest value, so 12-bit data stored in 16 bits spans 0..255;
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
    image = to_uint8(image)
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
