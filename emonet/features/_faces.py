"""Finding faces in photos and cropping them the way FER2013's faces are framed."""

from __future__ import annotations

import cv2
import numpy as np

from emonet._constants import FACE_SIZE, NUM_LANDMARKS
from emonet._image import to_grayscale_uint8
from emonet.features._dlib_models import cnn_face_detector, face_detector
from emonet.features._landmarks import LANDMARK_PARTS, extract_landmarks

#: Detectors of :func:`detect_faces`: dlib's HOG + linear SVM, and its CNN (MMOD).
DETECTORS: tuple[str, ...] = ("hog", "cnn")
#: Default lowest detection score kept, per detector. dlib's HOG detector reports weak
#: false faces with scores near 0 (on the astronaut photo's suit: -0.015 and -0.008 at
#: 1x and 2x, 0.17 when its colours are read in the wrong order), against 0.9-1.5 for her
#: face, also shrunk to 40 px; the CNN's confidences of real faces are near 1.
DEFAULT_MIN_SCORES: dict[str, float] = {"hog": 0.3, "cnn": 0.3}
# Past this many pixels on the long side, an automatic second pass at double size
# (four times the cost) is not worth it: faces too small to find at 1x are rare there.
_AUTO_UPSAMPLE_MAX_SIDE = 1000


def detect_faces(
    image: np.ndarray,
    upsample: int | None = 1,
    *,
    detector: str = "hog",
    min_score: float | None = None,
    return_scores: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Find frontal faces with one of dlib's detectors.

    Parameters
    ----------
    image : (H, W) or (H, W, 3) ndarray
        A photo; colour is converted to grayscale (OpenCV's BGR order).
    upsample : int or None, default=1
        Times the image is doubled in size before detection; each finds smaller faces
        (about 80 px at 0, 40 px at 1) at four times the cost. ``None``: detect at the
        photo's size, and double it only when nothing was found and the photo is at most
        1,000 px on its long side.
    detector : {"hog", "cnn"}, default="hog"
        dlib's HOG detector (about 15 ms on a 512x512 photo on one CPU core), or its CNN
        detector (``mmod_human_face_detector.dat``: finds faces that are partly covered
        or turned, but takes 1-2 s a photo on a CPU).
    min_score : float, optional
        Lowest score kept: the SVM margin for ``"hog"``, the confidence for ``"cnn"``.
        Default :data:`DEFAULT_MIN_SCORES` (0.3 for both).
    return_scores : bool, default=False
        Also return the scores.

    Returns
    -------
    boxes : (K, 4) ndarray of int64
        Boxes ``(left, top, right, bottom)``, largest first; empty when none is found.
    scores : (K,) ndarray of float32
        Only with ``return_scores=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.features import detect_faces
    >>> detect_faces(np.zeros((64, 64), np.uint8)).shape
    (0, 4)
    >>> from skimage import data
    >>> boxes, scores = detect_faces(data.astronaut(), upsample=0, return_scores=True)
    >>> boxes.tolist(), bool(scores[0] > 1)
    ([[179, 83, 266, 170]], True)
    """
    if detector not in DETECTORS:
        raise ValueError(f"detector must be one of {DETECTORS}, got {detector!r}")
    if upsample is not None and (int(upsample) != upsample or upsample < 0):
        raise ValueError(f"upsample must be None or an integer >= 0, got {upsample!r}")
    threshold = DEFAULT_MIN_SCORES[detector] if min_score is None else float(min_score)
    gray = to_grayscale_uint8(image)
    if upsample is None:
        boxes, scores = _detect(gray, 0, detector, threshold)
        if len(boxes) == 0 and max(gray.shape) <= _AUTO_UPSAMPLE_MAX_SIDE:
            boxes, scores = _detect(gray, 1, detector, threshold)
    else:
        boxes, scores = _detect(gray, int(upsample), detector, threshold)
    if len(boxes):
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        order = np.argsort(-area, kind="stable")
        boxes, scores = boxes[order], scores[order]
    return (boxes, scores) if return_scores else boxes


def _detect(
    gray: np.ndarray, upsample: int, detector: str, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    if detector == "hog":
        # adjust_threshold lets dlib report the weaker candidates we then filter
        rects, scores, _ = face_detector().run(gray, upsample, min(threshold, 0.0))
        pairs = list(zip(rects, scores, strict=True))
    else:
        pairs = [(d.rect, d.confidence) for d in cnn_face_detector()(gray, upsample)]
    pairs = [(r, s) for r, s in pairs if s >= threshold]
    boxes = np.array([(r.left(), r.top(), r.right(), r.bottom()) for r, _ in pairs], np.int64)
    return boxes.reshape(-1, 4), np.array([s for _, s in pairs], np.float32)


def align_faces(
    image: np.ndarray,
    boxes: np.ndarray,
    size: int = FACE_SIZE,
    margin: float = 0.25,
) -> tuple[np.ndarray, np.ndarray]:
    """Locate the landmarks of faces in a photo, and cut each face out with its eyes level.

    Each face is rotated about its box centre so that the eyes (means of landmarks
    36-41 and 42-47) are level, and a square of the box's side plus ``margin`` on each
    side is resampled to ``size`` pixels, which frames it like a FER2013 face.

    Parameters
    ----------
    image : (H, W) or (H, W, 3) ndarray
        A photo.
    boxes : (K, 4) array_like of int
        Face boxes ``(left, top, right, bottom)``, e.g. of :func:`detect_faces`.
    size : int, default=48
        Side of the output faces.
    margin : float, default=0.25
        Extra context on each side, as a fraction of the box side.

    Returns
    -------
    faces : (K, size, size) ndarray of uint8
    landmarks : (K, 68, 2) ndarray of float32
        dlib's 68 points of each face, in the photo's pixel coordinates.

    Examples
    --------
    >>> from skimage import data
    >>> from emonet.features import align_faces
    >>> faces, points = align_faces(data.astronaut(), [[179, 83, 266, 170]])
    >>> faces.shape, points.shape
    ((1, 48, 48), (1, 68, 2))
    """
    gray = to_grayscale_uint8(image)
    boxes = np.asarray(boxes, np.int64).reshape(-1, 4)
    faces = np.empty((len(boxes), size, size), dtype=np.uint8)
    if len(boxes) == 0:
        return faces, np.empty((0, NUM_LANDMARKS, 2), np.float32)
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
    return faces, landmarks


def crop_faces(
    image: np.ndarray,
    boxes: np.ndarray | None = None,
    size: int = FACE_SIZE,
    margin: float = 0.25,
    largest_only: bool = False,
    upsample: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Align and crop faces from a photo as square grayscale faces.

    Detects the faces (:func:`detect_faces`) unless ``boxes`` are given, then aligns
    and crops each (:func:`align_faces`).

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
    faces, _ = align_faces(gray, boxes, size=size, margin=margin)
    return faces, boxes
