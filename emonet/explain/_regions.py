"""Face regions drawn from a face's 68 landmarks: brows, eyes, nose, mouth, cheeks, jaw."""

from __future__ import annotations

import cv2
import numpy as np

from emonet._constants import FACE_SIZE, NUM_LANDMARKS

__all__ = ["REGIONS", "crop_landmarks", "region_masks"]

#: The regions of :func:`region_masks`, in the order of every attribution. "right" and
#: "left" are the subject's (dlib's 68-point scheme): the right eye is on the image's left.
REGIONS: tuple[str, ...] = (
    "right_brow",
    "left_brow",
    "right_eye",
    "left_eye",
    "nose",
    "mouth",
    "cheeks",
    "jaw",
)

# Points of the 68-point scheme (iBUG 300-W) each polygon is drawn through.
_BROWS = {"right_brow": range(17, 22), "left_brow": range(22, 27)}
_EYES = {"right_eye": range(36, 42), "left_eye": range(42, 48)}
_NOSE = range(27, 36)
_MOUTH = range(48, 60)
# A cheek: down the jaw line, to the mouth's corner, up the nose's side, along the
# lower eyelid to the eye's outer corner.
_CHEEKS = ((1, 2, 3, 4, 48, 31, 39, 40, 41, 36), (15, 14, 13, 12, 54, 35, 42, 47, 46, 45))
# The chin and lower jaw: along the jaw line, back along the lower lip.
_JAW = (*range(3, 14), 54, 55, 56, 57, 58, 59, 48)
# Drawing order: a pixel belongs to the first region that claims it.
_PRIORITY = ("right_eye", "left_eye", "right_brow", "left_brow", "mouth", "nose", "cheeks", "jaw")


def crop_landmarks(landmarks: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Move a face's landmarks from the photo's pixels into its crop's.

    Parameters
    ----------
    landmarks : (68, 2) or (K, 68, 2) array_like
        Points in the photo, as :func:`emonet.features.align_faces` returns them.
    transform : (2, 3) or (K, 2, 3) array_like
        Photo-to-crop matrices (``align_faces(..., return_transforms=True)``).

    Returns
    -------
    ndarray of float32, the shape of ``landmarks``

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.explain import crop_landmarks
    >>> points = np.array([[100.0, 50.0]] * 68)
    >>> crop_landmarks(points, [[0.5, 0, -10], [0, 0.5, 0]])[0].tolist()
    [40.0, 25.0]
    """
    points = np.asarray(landmarks, np.float64)
    matrix = np.asarray(transform, np.float64)
    moved = points @ np.swapaxes(matrix[..., :2], -1, -2) + matrix[..., None, :, 2]
    return moved.astype(np.float32)


def region_masks(landmarks: np.ndarray, size: int = FACE_SIZE) -> np.ndarray:
    """Masks of :data:`REGIONS` on a face crop, drawn from the face's 68 landmarks.

    Polygons through the landmarks (eyes, nose and mouth widened a little so that their
    edges are inside; brows drawn as thick lines), made disjoint: a pixel belongs to one
    region at most, the eyes first, then the brows, mouth, nose, cheeks and jaw. The
    pixels in none of them (forehead, hair, background) are the "rest".

    Parameters
    ----------
    landmarks : (68, 2) array_like
        The face's points in its crop's pixels (:func:`crop_landmarks` for a photo's).
    size : int, default=48
        Side of the crop.

    Returns
    -------
    (len(REGIONS), size, size) ndarray of bool

    Raises
    ------
    ValueError
        If ``landmarks`` is not 68 finite points.

    Examples
    --------
    >>> from emonet.explain import REGIONS, region_masks
    >>> from emonet.features import face_template
    >>> masks = region_masks(face_template().landmarks)
    >>> masks.shape, int(masks.sum(axis=0).max())
    ((8, 48, 48), 1)
    >>> bool(masks[REGIONS.index("mouth")][36:40, 20:28].any())
    True
    """
    points = np.asarray(landmarks, np.float64)
    if points.shape != (NUM_LANDMARKS, 2) or not np.isfinite(points).all():
        raise ValueError(
            f"landmarks must be 68 finite (x, y) points of one face, got shape {points.shape}"
        )
    # widths scale with the face: its inter-ocular distance (about 18 px in a FER2013 crop)
    ocular = float(np.linalg.norm(points[36:42].mean(0) - points[42:48].mean(0)))
    grow = max(1, round(ocular / 10))
    kernel = np.ones((3, 3), np.uint8)

    def polygon(indices, convex: bool = True, dilate: int = 0) -> np.ndarray:
        canvas = np.zeros((size, size), np.uint8)
        pts = np.round(points[list(indices)] * 16).astype(np.int32)  # 4 fractional bits
        if convex:
            cv2.fillConvexPoly(canvas, cv2.convexHull(pts), 1, cv2.LINE_8, shift=4)
        else:
            cv2.fillPoly(canvas, [pts], 1, cv2.LINE_8, shift=4)
        if dilate:
            canvas = cv2.dilate(canvas, kernel, iterations=dilate)
        return canvas.astype(bool)

    def line(indices) -> np.ndarray:
        canvas = np.zeros((size, size), np.uint8)
        pts = np.round(points[list(indices)] * 16).astype(np.int32)
        cv2.polylines(canvas, [pts], False, 1, thickness=2 * grow + 1, shift=4)
        return canvas.astype(bool)

    drawn = {name: line(indices) for name, indices in _BROWS.items()}
    drawn |= {name: polygon(indices, dilate=grow) for name, indices in _EYES.items()}
    drawn["nose"] = polygon(_NOSE, dilate=1)
    drawn["mouth"] = polygon(_MOUTH, dilate=grow)
    drawn["cheeks"] = polygon(_CHEEKS[0], convex=False) | polygon(_CHEEKS[1], convex=False)
    drawn["jaw"] = polygon(_JAW, convex=False) | line(range(0, 17))
    taken = np.zeros((size, size), bool)
    masks = {}
    for name in _PRIORITY:
        masks[name] = drawn[name] & ~taken
        taken |= drawn[name]
    return np.stack([masks[name] for name in REGIONS])
