"""Finding faces in photos and cropping them the way FER2013's faces are framed."""

from __future__ import annotations

import cv2
import numpy as np

from emonet._constants import FACE_SIZE
from emonet.data._images import to_grayscale_uint8
from emonet.features._dlib_models import face_detector
from emonet.features._landmarks import LANDMARK_PARTS, extract_landmarks


def detect_faces(image: np.ndarray, upsample: int = 1) -> np.ndarray:
    """Find frontal faces with dlib's HOG detector.

    Parameters
    ----------
    image : (H, W) or (H, W, 3) ndarray
        A photo; colour is converted to grayscale (OpenCV's BGR order).
    upsample : int, optional
        Times the image is doubled in size before detection; each finds smaller faces
        (about 80 px at 0, 40 px at 1) at four times the cost.

    Returns
    -------
    (K, 4) ndarray of int64
        Boxes ``(left, top, right, bottom)``, largest first; empty when none is found.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.features import detect_faces
    >>> detect_faces(np.zeros((64, 64), np.uint8)).shape
    (0, 4)
    """
    gray = to_grayscale_uint8(image)
    rects = face_detector()(gray, int(upsample))
    boxes = np.array([(r.left(), r.top(), r.right(), r.bottom()) for r in rects], np.int64)
    if len(boxes) == 0:
        return np.empty((0, 4), np.int64)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return boxes[np.argsort(-area, kind="stable")]


def crop_faces(
    image: np.ndarray,
    boxes: np.ndarray | None = None,
    size: int = FACE_SIZE,
    margin: float = 0.25,
    largest_only: bool = False,
    upsample: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Align and crop faces from a photo as square grayscale faces.

    Each face is rotated about its box centre so that the eyes (means of landmarks
    36-41 and 42-47) are level, and a square of the box's side plus ``margin`` on each
    side is resampled to ``size`` pixels, which frames it like a FER2013 face.

    Parameters
    ----------
    image : (H, W) or (H, W, 3) ndarray
        A photo.
    boxes : (K, 4) array_like, optional
        Face boxes ``(left, top, right, bottom)``; found with :func:`detect_faces` if
        not given.
    size : int, optional
        Side of the output faces.
    margin : float, optional
        Extra context on each side, as a fraction of the box side.
    largest_only : bool, optional
        Keep only the largest face.
    upsample : int, optional
        Passed to :func:`detect_faces`.

    Returns
    -------
    faces : (K, size, size) ndarray of uint8
    boxes : (K, 4) ndarray of int64
        The boxes the faces were cut from.

    Examples
    --------
    >>> from skimage import data
    >>> from emonet.features import crop_faces
    >>> faces, boxes = crop_faces(data.astronaut()[:, :, ::-1])
    >>> faces.shape
    (1, 48, 48)
    """
    gray = to_grayscale_uint8(image)
    boxes = detect_faces(gray, upsample) if boxes is None else np.asarray(boxes, np.int64)
    boxes = boxes.reshape(-1, 4)
    if largest_only:
        boxes = boxes[:1]
    faces = np.empty((len(boxes), size, size), dtype=np.uint8)
    if len(boxes) == 0:
        return faces, boxes
    landmarks = extract_landmarks([gray] * len(boxes), boxes)
    for i, (box, points) in enumerate(zip(boxes, landmarks, strict=True)):
        right_eye = points[LANDMARK_PARTS["right_eye"]].mean(axis=0)
        left_eye = points[LANDMARK_PARTS["left_eye"]].mean(axis=0)
        dx, dy = left_eye - right_eye
        angle = np.degrees(np.arctan2(dy, dx))
        centre = ((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0)
        side = max(box[2] - box[0], box[3] - box[1]) * (1.0 + 2.0 * margin)
        matrix = cv2.getRotationMatrix2D(centre, float(angle), size / side)
        matrix[:, 2] += (size / 2.0 - centre[0], size / 2.0 - centre[1])
        faces[i] = cv2.warpAffine(
            gray, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
        )
    return faces, boxes
