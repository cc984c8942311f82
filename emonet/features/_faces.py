"""Finding faces in photos and cropping them the way FER2013's faces are framed."""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np

from emonet._constants import FACE_SIZE, NUM_LANDMARKS
from emonet._image import to_grayscale_uint8
from emonet.features._dlib_models import cnn_face_detector, face_detector
from emonet.features._landmarks import extract_landmarks
from emonet.features._template import MAX_ROLL, template_transform, warp_face

#: Detectors of :func:`detect_faces`: dlib's HOG + linear SVM, and its CNN (MMOD).
DETECTORS: tuple[str, ...] = ("hog", "cnn")
#: A detector of one's own: called with the photo (``(H, W)`` gray or ``(H, W, 3)`` RGB
#: uint8), it returns face boxes ``(K, 4)`` ``(left, top, right, bottom)``, or
#: ``(boxes, scores)``.
Detector = Callable[[np.ndarray], Any]
#: Default lowest detection score kept, per detector. The HOG detector's was chosen on
#: data (docs/recognize.md): the lowest threshold, in steps of 0.1, that keeps no false
#: face on real photos. On the faceless photos of ``bench/photos.py`` (50 synthetic, 18
#: real) nothing scored above -0.4, but the astronaut's mission patch scores up to 0.10
#: (JPEG qualities 60-95, mirrored, at 1x and 2x) and 0.17 when an RGB photo is read as
#: BGR. On the benchmark's hard photos it keeps 50% of the faces at 94% precision, against
#: 46% at the former 0.3. The CNN's confidences of real faces are near 1.
DEFAULT_MIN_SCORES: dict[str, float] = {"hog": 0.2, "cnn": 0.3}
#: Most pixels a photo may have once upsampled for detection (dlib's HOG detector holds
#: several float copies of it: 2 GB at 5x on a 512x512 photo).
MAX_DETECTION_PIXELS: int = 4096 * 4096
# Past this many pixels on the long side, an automatic second pass at double size
# (four times the cost) is not worth it: faces too small to find at 1x are rare there.
_AUTO_UPSAMPLE_MAX_SIDE = 1000
# Smallest side the CNN detector is given (smaller photos are padded).
_CNN_MIN_SIDE = 128


def check_detection(
    detector: str | Detector = "hog", upsample: int | None = 1, min_score: float | None = None
) -> float | None:
    """Check the detection settings of :func:`detect_faces` without running a detector.

    Returns
    -------
    float or None
        The lowest score kept: ``min_score``, or the detector's default (None for a
        callable detector, whose boxes are all kept unless ``min_score`` is given).

    Raises
    ------
    ValueError
        If a setting is not one :func:`detect_faces` takes, saying which.

    Examples
    --------
    >>> from emonet.features import check_detection
    >>> check_detection("hog", None)
    0.2
    """
    if not callable(detector) and detector not in DETECTORS:
        raise ValueError(
            f"detector must be one of {DETECTORS} or a callable returning boxes, got {detector!r}"
        )
    if upsample is not None and (
        isinstance(upsample, bool) or not isinstance(upsample, Integral) or upsample < 0
    ):
        raise ValueError(f"upsample must be None or an integer >= 0, got {upsample!r}")
    if min_score is not None:
        if isinstance(min_score, bool) or not isinstance(min_score, Real):
            raise ValueError(f"min_score must be a number, got {min_score!r}")
        if not np.isfinite(min_score):
            raise ValueError(f"min_score must be a finite number, got {min_score!r}")
        return float(min_score)
    return None if callable(detector) else DEFAULT_MIN_SCORES[detector]


def detect_faces(
    image: np.ndarray,
    upsample: int | None = 1,
    *,
    detector: str | Detector = "hog",
    min_score: float | None = None,
    return_scores: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Find frontal faces with one of dlib's detectors, or with one of your own.

    Parameters
    ----------
    image : (H, W) or (H, W, 3) ndarray
        A photo, uint8; dlib's detectors read its grayscale (OpenCV's BGR order).
    upsample : int or None, default=1
        Times the image is doubled in size before detection; each finds smaller faces
        (about 80 px at 0, 40 px at 1) at four times the cost. ``None``: detect at the
        photo's size, and double it only when nothing was found and the photo is at most
        1,000 px on its long side. Refused when the doubled photo would exceed
        :data:`MAX_DETECTION_PIXELS`. Ignored by a callable detector.
    detector : {"hog", "cnn"} or callable, default="hog"
        dlib's HOG detector (about 15 ms on a 512x512 photo on one CPU core), its CNN
        detector (``mmod_human_face_detector.dat``: finds faces that are partly covered
        or turned, but takes 1-2 s a photo on a CPU), or a function of the photo that
        returns boxes ``(K, 4)`` or ``(boxes, scores)`` (:data:`Detector`).
    min_score : float, optional
        Lowest score kept: the SVM margin for ``"hog"``, the confidence for ``"cnn"``.
        Default :data:`DEFAULT_MIN_SCORES`; a callable's boxes are all kept by default.
    return_scores : bool, default=False
        Also return the scores (NaN where a callable gave boxes only).

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
    >>> photo = data.astronaut()[:, :, ::-1]  # RGB to OpenCV's BGR order
    >>> boxes, scores = detect_faces(photo, upsample=0, return_scores=True)
    >>> boxes.tolist(), bool(scores[0] > 1)
    ([[179, 83, 266, 170]], True)
    >>> detect_faces(data.astronaut(), detector=lambda photo: [[10, 10, 60, 60]]).tolist()
    [[10, 10, 60, 60]]
    """
    threshold = check_detection(detector, upsample, min_score)
    if callable(detector):
        boxes, scores = _user_boxes(detector(image), detector)
    else:
        gray = to_grayscale_uint8(image)
        if upsample is None:
            boxes, scores = _detect(gray, 0, detector, threshold)
            if (
                len(boxes) == 0
                and max(gray.shape) <= _AUTO_UPSAMPLE_MAX_SIDE
                and _fits(gray.shape, 1)
            ):
                boxes, scores = _detect(gray, 1, detector, threshold)
        else:
            if not _fits(gray.shape, upsample):
                raise ValueError(
                    f"upsample={upsample} makes this {gray.shape[1]}x{gray.shape[0]} photo "
                    f"{gray.shape[1] << upsample}x{gray.shape[0] << upsample} pixels, over "
                    f"the {MAX_DETECTION_PIXELS:,} that detection takes; pass a smaller "
                    "upsample"
                )
            boxes, scores = _detect(gray, int(upsample), detector, threshold)
    if threshold is not None and len(boxes):
        # NaN scores (a callable's boxes without scores) are kept
        keep = ~(scores < threshold)
        boxes, scores = boxes[keep], scores[keep]
    if len(boxes):
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        order = np.argsort(-area, kind="stable")
        boxes, scores = boxes[order], scores[order]
    return (boxes, scores) if return_scores else boxes


def _fits(shape: tuple[int, ...], upsample: int) -> bool:
    return (shape[0] << upsample) * (shape[1] << upsample) <= MAX_DETECTION_PIXELS


def _user_boxes(found: Any, detector: Detector) -> tuple[np.ndarray, np.ndarray]:
    """The boxes and scores of a callable detector's answer, checked."""
    name = getattr(detector, "__name__", type(detector).__name__)
    scores = None
    if isinstance(found, tuple) and len(found) == 2:
        found, scores = found
    boxes = np.asarray(found if found is not None else [], dtype=np.float64)
    if boxes.size == 0:
        return np.empty((0, 4), np.int64), np.empty(0, np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or not np.isfinite(boxes).all():
        raise ValueError(
            f"detector {name} must return finite boxes of shape (K, 4) (left, top, right, "
            f"bottom), or (boxes, scores); got shape {boxes.shape}"
        )
    if scores is None:
        scores = np.full(len(boxes), np.nan, np.float32)
    scores = np.asarray(scores, np.float32).reshape(-1)
    if scores.shape != (len(boxes),):
        raise ValueError(f"detector {name} returned {len(boxes)} boxes but {scores.size} scores")
    return np.round(boxes).astype(np.int64), scores


def _detect(
    gray: np.ndarray, upsample: int, detector: str, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    if detector == "hog":
        # adjust_threshold lets dlib report the weaker candidates we then filter
        rects, scores, _ = face_detector().run(gray, upsample, min(threshold, 0.0))
        pairs = list(zip(rects, scores, strict=True))
    else:
        # the CNN cannot take an image smaller than its receptive field (dlib fails, and
        # may corrupt its heap): pad on the right and bottom, which moves no box
        short = max(0, _CNN_MIN_SIDE - gray.shape[0]), max(0, _CNN_MIN_SIDE - gray.shape[1])
        if any(short):
            gray = np.pad(gray, ((0, short[0]), (0, short[1])))
        pairs = [(d.rect, d.confidence) for d in cnn_face_detector()(gray, upsample)]
    pairs = [(r, s) for r, s in pairs if s >= threshold]
    boxes = np.array([(r.left(), r.top(), r.right(), r.bottom()) for r, _ in pairs], np.int64)
    return boxes.reshape(-1, 4), np.array([s for _, s in pairs], np.float32)


def align_faces(
    image: np.ndarray,
    boxes: np.ndarray,
    size: int = FACE_SIZE,
    *,
    max_roll: float = MAX_ROLL,
    return_transforms: bool = False,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Locate the landmarks of faces in a photo, and cut each out framed as FER2013's.

    Each face's 68 landmarks are mapped onto the FER2013 face template (the median
    landmark positions of FER2013's Training crops, :func:`face_template`) by a
    similarity transform (:func:`template_transform`): the face is scaled and placed as
    the networks saw faces in training, and its roll beyond ``max_roll`` degrees turned
    away. A face whose landmarks cannot be trusted is framed from its box instead
    (:func:`box_transform`).

    Parameters
    ----------
    image : (H, W) or (H, W, 3) ndarray
        A photo.
    boxes : (K, 4) array_like of int
        Face boxes ``(left, top, right, bottom)``, e.g. of :func:`detect_faces`.
    size : int, default=48
        Side of the output faces.
    max_roll : float, default=10.0
        Head roll left as it is, in degrees; 0 levels the eyes of every face.
    return_transforms : bool, default=False
        Also return each face's transform from photo to crop pixels.

    Returns
    -------
    faces : (K, size, size) ndarray of uint8
    landmarks : (K, 68, 2) ndarray of float32
        dlib's 68 points of each face, in the photo's pixel coordinates.
    transforms : (K, 2, 3) ndarray of float64
        Only with ``return_transforms=True``: :func:`cv2.warpAffine` matrices, photo
        pixels to crop pixels (invert one with :func:`cv2.invertAffineTransform` to map
        a crop back onto the photo).

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
    transforms = np.empty((len(boxes), 2, 3), np.float64)
    landmarks = (
        extract_landmarks([gray] * len(boxes), boxes)
        if len(boxes)
        else np.empty((0, NUM_LANDMARKS, 2), np.float32)
    )
    for i, (box, points) in enumerate(zip(boxes, landmarks, strict=True)):
        transforms[i], _ = template_transform(points, box, size=size, max_roll=max_roll)
        faces[i] = warp_face(gray, transforms[i], size)
    return (faces, landmarks, transforms) if return_transforms else (faces, landmarks)


def crop_faces(
    image: np.ndarray,
    boxes: np.ndarray | None = None,
    size: int = FACE_SIZE,
    largest_only: bool = False,
    upsample: int | None = None,
    *,
    detector: str | Detector = "hog",
    min_score: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Find the faces of a photo and cut each out framed as FER2013's.

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
    largest_only : bool, optional
        Keep only the largest face.
    upsample, detector, min_score
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
    if boxes is None:
        boxes = detect_faces(image, upsample, detector=detector, min_score=min_score)
    boxes = np.asarray(boxes, np.int64).reshape(-1, 4)
    if largest_only:
        boxes = boxes[:1]
    faces, _ = align_faces(image, boxes, size=size)
    return faces, boxes
