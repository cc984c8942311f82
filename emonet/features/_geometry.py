"""Face geometry: faces warped, mirrored and zoomed together with their landmarks and HOG.

A model that reads the feature vector should see the features of the face it is shown.
When a face moves (a training augmentation, a test-time view), one affine map per face
warps the image, moves its 68 landmarks (a mirror image also swaps left and right
points, :data:`FLIP_PERMUTATION`), and the sliding-window HOG is computed again on the
moved face. Training (:mod:`emonet.training`) draws random maps; the test-time
augmentation of :mod:`emonet.models` uses the fixed ones of :func:`mirror_batch` and
:func:`scale_batch`. numpy and OpenCV only.
"""

from __future__ import annotations

import cv2
import numpy as np

from emonet._constants import LANDMARK_FEATURES, NUM_LANDMARKS
from emonet.features._hog import sliding_hog

__all__ = [
    "FLIP_PERMUTATION",
    "mirror_batch",
    "scale_batch",
    "transform_landmarks",
    "warp_faces",
    "warp_features",
]


def _flip_permutation() -> np.ndarray:
    # Mirror pairs of the 68-point iBUG scheme; points on the midline map to themselves.
    pairs = [(i, 16 - i) for i in range(8)]  # jaw
    pairs += [(17 + i, 26 - i) for i in range(5)]  # eyebrows
    pairs += [(31, 35), (32, 34)]  # nose base
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]  # outer lips
    pairs += [(60, 64), (61, 63), (65, 67)]  # inner lips
    permutation = np.arange(NUM_LANDMARKS)
    for a, b in pairs:
        permutation[a], permutation[b] = b, a
    permutation.setflags(write=False)
    return permutation


#: ``FLIP_PERMUTATION[i]`` is the point that becomes point ``i`` when a face is mirrored:
#: the mirror of the left eye's outer corner (45) is the right eye's outer corner (36).
FLIP_PERMUTATION: np.ndarray = _flip_permutation()


def warp_faces(images: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Warp each face by its affine matrix, replicating the border.

    Parameters
    ----------
    images : (N, H, W) uint8
    matrices : (N, 2, 3)
        Forward maps from input to output pixel coordinates, ``[x', y'] = M @ [x, y,
        1]``, in the convention of ``cv2.warpAffine`` and of the landmarks (pixel
        centres at integers), as :func:`emonet.training.random_affine` draws them.

    Returns
    -------
    (N, H, W) uint8

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.features import warp_faces
    >>> faces = np.zeros((1, 48, 48), np.uint8)
    >>> faces[0, 20, 30] = 255
    >>> shift = np.array([[[1.0, 0.0, 2.0], [0.0, 1.0, -5.0]]])  # 2 right, 5 up
    >>> np.argwhere(warp_faces(faces, shift)[0] == 255).tolist()
    [[15, 32]]
    """
    images = np.asarray(images)
    out = np.empty_like(images)
    height, width = images.shape[1:3]
    for i, (image, matrix) in enumerate(zip(images, matrices, strict=True)):
        out[i] = cv2.warpAffine(
            image,
            matrix,
            (width, height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
    return out


def transform_landmarks(
    landmarks: np.ndarray, matrices: np.ndarray, flipped: np.ndarray | None = None
) -> np.ndarray:
    """Move landmarks by the affine maps that warped their faces.

    Parameters
    ----------
    landmarks : (N, 68, 2)
        ``(x, y)`` pixel coordinates.
    matrices : (N, 2, 3)
        Forward maps, as :func:`warp_faces` takes them.
    flipped : (N,) bool, optional
        Faces that were mirrored: their points are renumbered by
        :data:`FLIP_PERMUTATION`, so that point 36 is still the subject's right eye corner.

    Returns
    -------
    (N, 68, 2) float32

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.features import transform_landmarks
    >>> points = np.zeros((1, 68, 2))
    >>> points[0, 36] = (10.0, 20.0)
    >>> mirror = np.array([[[-1.0, 0.0, 47.0], [0.0, 1.0, 0.0]]])
    >>> transform_landmarks(points, mirror, np.array([True]))[0, 45].tolist()
    [37.0, 20.0]
    """
    points = np.asarray(landmarks, dtype=np.float64)
    moved = points @ matrices[:, :, :2].transpose(0, 2, 1) + matrices[:, None, :, 2]
    if flipped is not None and np.any(flipped):
        moved[flipped] = moved[flipped][:, FLIP_PERMUTATION]
    return moved.astype(np.float32)


def warp_features(
    features: np.ndarray,
    matrices: np.ndarray,
    flipped: np.ndarray | None = None,
    faces: np.ndarray | None = None,
) -> np.ndarray:
    """The feature vectors of faces moved by affine maps.

    The landmarks (the first 136 values) move by each face's map
    (:func:`transform_landmarks`, renumbered where ``flipped``); the HOG (the rest) is
    computed again on ``faces``, the moved faces, when they are given, and kept otherwise.

    Parameters
    ----------
    features : (N, 2728) float array_like
        Landmarks then HOG of each face, before the move.
    matrices : (N, 2, 3)
        Forward maps, as :func:`warp_faces` takes them.
    flipped : (N,) bool, optional
        Faces that were mirrored.
    faces : (N, 48, 48) uint8, optional
        The moved faces, whose HOG replaces the old one.

    Returns
    -------
    (N, 2728) float32
        A copy; ``features`` is left alone.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.features import warp_features
    >>> features = np.zeros((1, 2728), np.float32)
    >>> features[0, :2] = (10.0, 20.0)  # point 0, the jaw's first
    >>> shift = np.array([[[1.0, 0.0, 2.0], [0.0, 1.0, -5.0]]])
    >>> warp_features(features, shift)[0, :2].tolist()
    [12.0, 15.0]
    """
    features = np.array(features, dtype=np.float32, copy=True)
    n = len(features)
    landmarks = features[:, :LANDMARK_FEATURES].reshape(n, NUM_LANDMARKS, 2)
    moved = transform_landmarks(landmarks, matrices, flipped)
    features[:, :LANDMARK_FEATURES] = moved.reshape(n, LANDMARK_FEATURES)
    if faces is not None:
        features[:, LANDMARK_FEATURES:] = sliding_hog(faces)
    return features


def mirror_batch(
    images: np.ndarray, features: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Mirror faces left to right, with the features of the mirrored faces.

    The landmarks are mirrored and renumbered by :data:`FLIP_PERMUTATION`, and the HOG is
    computed again on the mirrored faces, so the result is what extraction gives for the
    mirrored face, up to the landmark detector's own asymmetry. Test-time augmentation
    (``emonet.models.predict_crops(..., tta="flip")``) averages a model's output on a
    face and on its mirror.

    Parameters
    ----------
    images : (N, 48, 48) uint8
    features : (N, 2728) float32 or None
        Landmarks then HOG of each face; ``None`` for a model without features.

    Returns
    -------
    images : (N, 48, 48) uint8
    features : (N, 2728) float32 or None

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.features import mirror_batch
    >>> faces = np.arange(2 * 48 * 48, dtype=np.uint8).reshape(2, 48, 48)
    >>> mirrored, _ = mirror_batch(faces, None)
    >>> bool((mirrored[:, :, ::-1] == faces).all())
    True
    """
    images = np.asarray(images)
    mirrored = np.ascontiguousarray(images[:, :, ::-1])
    if features is None:
        return mirrored, None
    n, width = len(images), images.shape[2]
    matrices = np.zeros((n, 2, 3))
    matrices[:, 0, 0], matrices[:, 0, 2], matrices[:, 1, 1] = -1.0, width - 1.0, 1.0
    return mirrored, warp_features(features, matrices, np.ones(n, bool), mirrored)


def scale_batch(
    images: np.ndarray, features: np.ndarray | None, scale: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """Zoom faces about their centre, with the features of the zoomed faces.

    ``scale`` > 1 enlarges the face (its border leaves the crop), < 1 shrinks it (the
    border pixels are replicated outward), as the training augmentation's ``zoom`` does.
    The landmarks move with the face and the HOG is computed again on the zoomed face.
    Multi-scale test-time augmentation (``emonet.models.predict_crops(...,
    tta="multiscale")``) averages a model's outputs at several zooms.

    Parameters
    ----------
    images : (N, 48, 48) uint8
    features : (N, 2728) float32 or None
        Landmarks then HOG of each face; ``None`` for a model without features.
    scale : float
        Zoom factor, > 0; 1 returns the faces unchanged.

    Returns
    -------
    images : (N, 48, 48) uint8
    features : (N, 2728) float32 or None

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.features import scale_batch
    >>> faces = np.zeros((2, 48, 48), np.uint8)
    >>> faces[:, 20:28, 20:28] = 255
    >>> zoomed, _ = scale_batch(faces, None, 2.0)
    >>> int((faces > 127).sum() / 2), int((zoomed > 127).sum() / 2)
    (64, 256)
    """
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    images = np.asarray(images)
    if scale == 1:
        return images, features
    n, size = len(images), images.shape[1]
    centre = (size - 1) / 2.0
    matrices = np.zeros((n, 2, 3))
    matrices[:, 0, 0] = matrices[:, 1, 1] = scale
    matrices[:, :, 2] = centre - scale * centre
    zoomed = warp_faces(images, matrices)
    if features is None:
        return zoomed, None
    return zoomed, warp_features(features, matrices, None, zoomed)
