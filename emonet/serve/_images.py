"""Uploaded bytes to photos: the format sniffed from the bytes, the size read from the
header before anything is decoded, then decoded in memory (nothing is written to disk)."""

from __future__ import annotations

import io
import warnings

import cv2
import numpy as np

from emonet.recognize import read_photo
from emonet.serve._errors import ServeError

__all__ = ["IMAGE_FORMATS", "VIDEO_FORMATS", "decode_upload", "sniff_image", "sniff_video"]

#: The image formats taken, as their bytes tell them (never the file name or header).
IMAGE_FORMATS = ("jpeg", "png", "bmp", "webp", "tiff")
#: The video containers taken.
VIDEO_FORMATS = ("mp4", "avi", "mkv")

_NOT_AN_IMAGE = "not an image: send JPEG, PNG, BMP, WebP or TIFF bytes"


def sniff_image(data: bytes) -> str | None:
    """The image format of ``data`` from its first bytes, or None.

    Examples
    --------
    >>> from emonet.serve import sniff_image
    >>> sniff_image(b"\\x89PNG\\r\\n\\x1a\\n..."), sniff_image(b"%PDF-1.7")
    ('png', None)
    """
    head = bytes(data[:16])
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"BM"):
        return "bmp"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    return None


def sniff_video(data: bytes) -> str | None:
    """The video container of ``data`` from its first bytes (mp4/mov, avi, mkv/webm),
    or None."""
    head = bytes(data[:16])
    if head[4:8] == b"ftyp":
        return "mp4"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "mkv"
    return None


def decode_upload(data: bytes, *, max_bytes: int, max_pixels: int, name: str = "") -> np.ndarray:
    """One uploaded image as an RGB (or gray) uint8 array, within the limits.

    Raises
    ------
    ServeError
        413 if over ``max_bytes`` or ``max_pixels`` (the latter read from the header,
        before decoding); 415 if the bytes are no image format taken; 422 if the image
        is damaged or too small to hold a face.
    """
    where = f"{name}: " if name else ""
    if not data:
        raise ServeError(400, "empty", f"{where}empty upload: send an image's bytes")
    if len(data) > max_bytes:
        raise ServeError(
            413,
            "too_large",
            f"{where}{len(data):,} bytes is over the limit of {max_bytes:,} bytes per "
            "image; send a smaller file",
        )
    kind = sniff_image(data)
    if kind is None:
        raise ServeError(415, "not_an_image", f"{where}{_NOT_AN_IMAGE}")
    width, height = _header_size(data, where)
    if width * height > max_pixels:
        raise ServeError(
            413,
            "too_many_pixels",
            f"{where}{width}x{height} pixels ({width * height:,}) is over the limit of "
            f"{max_pixels:,} pixels; scale the image down",
        )
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        image = None
    if image is None:
        raise ServeError(422, "bad_image", f"{where}a damaged {kind.upper()} image")
    try:
        return read_photo(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    except ValueError as error:
        raise ServeError(422, "bad_image", f"{where}{error}") from None


def _header_size(data: bytes, where: str) -> tuple[int, int]:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                return int(image.size[0]), int(image.size[1])
    except Image.DecompressionBombError:
        raise ServeError(
            413, "too_many_pixels", f"{where}an image of far too many pixels; scale it down"
        ) from None
    except Exception:
        raise ServeError(
            422, "bad_image", f"{where}a damaged image: its header cannot be read"
        ) from None
