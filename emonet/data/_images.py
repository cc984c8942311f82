"""Reading image files as 48x48 grayscale faces."""

from __future__ import annotations

import os

import cv2
import numpy as np

from emonet._constants import FACE_SIZE

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")


class ImageError(Exception):
    """One image that cannot be used; pipelines skip it, count it and report it."""


def read_grayscale(path: str | os.PathLike) -> np.ndarray:
    """Read an image file of any size, colour or bit depth as 2-D uint8 grayscale.

    Raises
    ------
    ImageError
        If the file is missing, empty or not an image OpenCV can decode.
    """
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise ImageError(f"cannot read file: {error.strerror or error}") from None
    if data.size == 0:
        raise ImageError("empty file")
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageError("not a decodable image")
    return to_grayscale_uint8(image)


def to_grayscale_uint8(image: np.ndarray) -> np.ndarray:
    """Convert a gray, RGB(A) or 16-bit image array to 2-D uint8 grayscale.

    Colour arrays read by OpenCV are BGR; the luma weights make the difference between
    BGR and RGB order small, and emonet reads files with OpenCV throughout.
    """
    image = np.asarray(image)
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    elif image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    if image.ndim != 2:
        raise ImageError(f"unsupported image shape {image.shape}")
    return np.ascontiguousarray(image)


def resize_face(image: np.ndarray, size: int = FACE_SIZE) -> np.ndarray:
    """Centre-crop a grayscale face crop to a square and resize it to ``size`` pixels."""
    h, w = image.shape
    if (h, w) == (size, size):
        return image
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = image[top : top + side, left : left + side]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=interpolation)


def read_face(path: str | os.PathLike, detect_faces: bool = False) -> np.ndarray:
    """Read one image file as a 48x48 uint8 grayscale face.

    With ``detect_faces=False`` the image is taken as a face crop (centre square,
    resized); otherwise the largest face dlib finds is aligned and cropped.

    Raises
    ------
    ImageError
        If the image cannot be read, or no face is found when detecting.
    """
    image = read_grayscale(path)
    if not detect_faces:
        return resize_face(image)
    from emonet.features import crop_faces  # photo path only: keeps emonet.data light

    faces, _ = crop_faces(image, largest_only=True)
    if len(faces) == 0:
        raise ImageError("no face found")
    return faces[0]
