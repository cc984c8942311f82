"""Photos as the recognizer reads them: any file or array, as uint8 gray or RGB.

Light (OpenCV and NumPy): a :class:`PhotoResult` reads its photo again with it, without
the recognizer's models.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from emonet._constants import FACE_SIZE
from emonet._image import ImageError, decode_image, to_uint8

__all__ = ["check_crops", "read_photo", "to_gray"]

PathLike = str | os.PathLike[str]


def read_photo(photo: np.ndarray | PathLike | bytes) -> np.ndarray:
    """A photo as a uint8 array: gray ``(H, W)`` or RGB ``(H, W, 3)``.

    Files are decoded by OpenCV (its BGR turned into RGB, the EXIF orientation applied,
    16-bit files kept at their depth) after their header is checked against
    :data:`emonet._image.MAX_IMAGE_PIXELS` (100 megapixels), so a decompression bomb is
    refused before it is decoded. Arrays are taken as gray or RGB(A). File and array
    values follow one rule, the one the features stage reads images by
    (``emonet._image.to_uint8``), which :meth:`Recognizer.predict_crops` applies to
    crops too: uint8 as it is; floats in [0, 1] times 255; other integers scaled from
    the smallest of 8, 10, 12, 14 or 16 bits that holds their largest value (12-bit data
    in a 16-bit PNG spans 0-255). NaN, floats outside [0, 1] (0-255 floats among them)
    and negative numbers are refused.

    Raises
    ------
    ValueError
        If a file cannot be read as an image or an array cannot be a photo, naming it.
    FileNotFoundError, IsADirectoryError
        If a path names no file, or a folder.
    """
    if isinstance(photo, bytes):
        photo = os.fsdecode(photo)
    if isinstance(photo, str | os.PathLike):
        path = Path(photo)
        if path.is_dir():
            raise IsADirectoryError(
                f"{path}: a folder, not an image file; Recognizer.predict reads folders, "
                "or pass its photos (emonet.recognize.find_inputs)"
            )
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such image file")
        try:
            # ANYDEPTH keeps 16 bits; without IMREAD_UNCHANGED the EXIF orientation applies
            image = to_uint8(decode_image(path, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR))
        except ImageError as error:
            raise ValueError(f"{path}: {error}") from None
        if image.ndim == 3:
            code = cv2.COLOR_BGR2RGB if image.shape[2] == 3 else cv2.COLOR_BGRA2RGB
            image = cv2.cvtColor(image, code)
        return np.ascontiguousarray(image)
    image = np.asarray(photo)
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"a photo must be (H, W) gray or (H, W, 3) RGB, got shape {image.shape}")
    if min(image.shape[:2]) < 8:
        raise ValueError(f"a photo of {image.shape[1]}x{image.shape[0]} pixels holds no face")
    if image.dtype == np.bool_ or image.dtype.kind not in "uif":
        raise ValueError(f"a photo must hold numbers, got dtype {image.dtype}")
    try:
        image = to_uint8(image)
    except ImageError as error:
        raise ValueError(f"a photo of dtype {image.dtype}: {error}") from None
    return np.ascontiguousarray(image)


def to_gray(image: np.ndarray) -> np.ndarray:
    """Grayscale of a gray or RGB uint8 photo (luma weights of RGB order)."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def check_crops(images: Any) -> np.ndarray:
    """Face crops as ``(N, 48, 48)`` uint8, by the rule photos follow; a wrong shape or
    dtype is one ``ValueError`` naming it."""
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or images.shape[1:] != (FACE_SIZE, FACE_SIZE):
        raise ValueError(
            f"face crops must be (N, {FACE_SIZE}, {FACE_SIZE}) grayscale, got shape "
            f"{images.shape}; photos go through predict()"
        )
    if images.dtype == np.bool_ or images.dtype.kind not in "uif":
        raise ValueError(f"face crops must hold numbers, got dtype {images.dtype}")
    try:
        # the rule photos follow (read_photo): floats in [0, 1], integers by bit depth
        return to_uint8(images)
    except ImageError as error:
        raise ValueError(f"face crops of dtype {images.dtype}: {error}") from None
