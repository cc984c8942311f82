"""Photos decoded and their faces found in worker processes (``detect_processes``).

dlib's detector runs one photo at a time in a process (two threads in it at once crash
it), so one process finds faces in one photo at a time, however many cores it has. With
worker processes, N photos are decoded and searched at once, in N processes; only the
bytes go to a worker, and the crops, boxes and landmarks come back.
"""

from __future__ import annotations

import cv2
import numpy as np

from emonet.features import align_faces, detect_faces
from emonet.serve._images import decode_upload

__all__ = ["find_faces", "warm"]


def find_faces(
    data: bytes,
    name: str,
    max_bytes: int,
    max_pixels: int,
    detector: str,
    upsample: int | None,
    min_score: float | None,
) -> tuple:
    """``((height, width), boxes, scores, landmarks, crops)`` of one uploaded photo, as
    :meth:`emonet.Recognizer.detect` finds them; raises ``ServeError`` for a refused
    upload."""
    image = decode_upload(data, max_bytes=max_bytes, max_pixels=max_pixels, name=name)
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    boxes, scores = detect_faces(
        gray, upsample=upsample, detector=detector, min_score=min_score, return_scores=True
    )
    crops, landmarks = align_faces(gray, boxes)
    return image.shape[:2], boxes, scores, landmarks, crops


def warm() -> None:
    """Load dlib's models in a new worker, before its first photo."""
    gray = np.zeros((64, 64), np.uint8)
    detect_faces(gray, upsample=0)
    align_faces(gray, np.array([[8, 8, 56, 56]]))
