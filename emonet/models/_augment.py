"""Geometric augmentation that moves the face, its landmarks and its HOG together.

The paper augments faces by random rotation (up to 10 degrees), shear, zoom and
horizontal flips. A model that also reads the feature vector should see the features
of the face it is shown, so here one affine transform per face warps the image, moves
its 68 landmarks (a flip also swaps left and right points, :data:`FLIP_PERMUTATION`),
and the sliding-window HOG is computed again on the warped face. Everything works on
numpy batches; :mod:`emonet.models._data` runs it on each batch, on any backend.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from emonet._choices import AUGMENT_MODES
from emonet._constants import FACE_SIZE, LANDMARK_FEATURES, NUM_LANDMARKS
from emonet.features import sliding_hog
from emonet.models._config import config_from_dict

__all__ = [
    "AUGMENT_MODES",
    "FLIP_PERMUTATION",
    "AugmentConfig",
    "augment_batch",
    "mirror_batch",
    "mixup_batch",
    "random_affine",
    "random_erase",
    "scale_batch",
    "transform_landmarks",
    "warp_faces",
]

# AUGMENT_MODES (from emonet._choices): ``full``: warp faces, move landmarks, recompute
# HOG; ``image``: warp faces and move landmarks, keep the HOG of the original face
# (cheaper); ``none``: no augmentation.


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


@dataclass
class AugmentConfig:
    """Random geometric augmentation of faces, as in the paper, and what it touches.

    Parameters
    ----------
    mode : {"full", "image", "none"}
        ``"full"``: the face is warped, the landmarks moved and the HOG recomputed on the
        warped face; ``"image"``: the face is warped and the landmarks moved, the HOG is the
        original face's (cheaper); ``"none"``: nothing changes.
    rotation : float
        Largest rotation, in degrees (uniform in ``[-rotation, rotation]``).
    shear : float
        Largest horizontal shear angle, in degrees.
    zoom : float
        Scale drawn uniformly in ``[1 - zoom, 1 + zoom]``.
    translate : float
        Largest shift along each axis, as a fraction of the face size.
    flip : bool
        Mirror half of the faces left to right.
    erase : float
        Probability of random erasing (Zhong et al. 2020): a rectangle of 2-33% of the
        warped face, of aspect ratio 0.3-3.3, is filled with noise. It is an occlusion, so
        the HOG of ``"full"`` mode is computed on the erased face; the landmarks stay.

    Examples
    --------
    >>> from emonet.models import AugmentConfig
    >>> AugmentConfig.from_config(AugmentConfig(zoom=0.2).get_config()).zoom
    0.2
    """

    mode: str = "full"
    rotation: float = 10.0
    shear: float = 10.0
    zoom: float = 0.1
    translate: float = 0.0
    flip: bool = True
    erase: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in AUGMENT_MODES:
            raise ValueError(
                f"unknown augmentation mode {self.mode!r}; "
                f"choose one of {', '.join(AUGMENT_MODES)}"
            )
        for name in ("rotation", "shear", "zoom", "translate"):
            if getattr(self, name) < 0:
                raise ValueError(f"augmentation {name} must be >= 0, got {getattr(self, name)}")
        if self.zoom >= 1:
            raise ValueError(f"augmentation zoom must be < 1, got {self.zoom}")
        if not 0 <= self.erase <= 1:
            raise ValueError(f"augmentation erase is a probability in [0, 1], got {self.erase}")

    @property
    def enabled(self) -> bool:
        """Whether the augmentation changes anything."""
        return self.mode != "none"

    def get_config(self) -> dict[str, Any]:
        """The configuration as a JSON-compatible dict."""
        return asdict(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> AugmentConfig:
        """Rebuild from :meth:`get_config`'s dict."""
        return config_from_dict(cls, config, "augmentation")


def random_affine(
    n: int, config: AugmentConfig, rng: np.random.Generator, size: int = FACE_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """Draw random affine transforms of faces about their centre.

    Parameters
    ----------
    n : int
        Number of transforms.
    config : AugmentConfig
        Ranges of rotation, shear, zoom, translation, and whether to flip.
    rng : numpy.random.Generator
    size : int, default=48
        Side of the faces.

    Returns
    -------
    matrices : (n, 2, 3) float64
        Forward maps from input to output pixel coordinates, ``[x', y'] = M @ [x, y, 1]``,
        in the convention of ``cv2.warpAffine`` and of the landmarks (pixel centres at
        integers). A flip is included in the matrix.
    flipped : (n,) bool
        Which transforms mirror the face (its landmarks must then be renumbered).
    """
    centre = (size - 1) / 2.0
    angle = np.deg2rad(rng.uniform(-config.rotation, config.rotation, n))
    shear = np.deg2rad(rng.uniform(-config.shear, config.shear, n))
    scale = rng.uniform(1 - config.zoom, 1 + config.zoom, n)
    shift = rng.uniform(-config.translate, config.translate, (n, 2)) * size
    flipped = rng.random(n) < 0.5 if config.flip else np.zeros(n, bool)

    cos, sin = np.cos(angle), np.sin(angle)
    # linear part: rotation @ shear @ scale @ flip
    linear = np.empty((n, 2, 2))
    linear[:, 0, 0] = cos
    linear[:, 0, 1] = cos * np.tan(shear) - sin
    linear[:, 1, 0] = sin
    linear[:, 1, 1] = sin * np.tan(shear) + cos
    linear *= scale[:, None, None]
    linear[:, :, 0] *= np.where(flipped, -1.0, 1.0)[:, None]
    matrices = np.empty((n, 2, 3))
    matrices[:, :, :2] = linear
    # keep the centre fixed, then shift
    matrices[:, :, 2] = centre - linear @ np.array([centre, centre]) + shift
    return matrices, flipped


def warp_faces(images: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Warp each face by its affine matrix, replicating the border.

    Parameters
    ----------
    images : (N, H, W) uint8
    matrices : (N, 2, 3)
        Forward maps, as :func:`random_affine` draws them.

    Returns
    -------
    (N, H, W) uint8
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


def random_erase(
    images: np.ndarray,
    probability: float,
    rng: np.random.Generator,
    area: tuple[float, float] = (0.02, 0.33),
    aspect: tuple[float, float] = (0.3, 3.3),
) -> np.ndarray:
    """Random erasing: fill a random rectangle of some faces with uniform noise.

    Parameters
    ----------
    images : (N, H, W) uint8
    probability : float
        Chance that a face gets a rectangle.
    rng : numpy.random.Generator
    area : (float, float), default=(0.02, 0.33)
        Range of the rectangle's area, as a fraction of the face's.
    aspect : (float, float), default=(0.3, 3.3)
        Range of its height / width, drawn log-uniformly.

    Returns
    -------
    (N, H, W) uint8
        A copy; faces without a rectangle are unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.models import random_erase
    >>> faces = np.zeros((4, 48, 48), np.uint8)
    >>> erased = random_erase(faces, 1.0, np.random.default_rng(0))
    >>> bool((erased != 0).any(axis=(1, 2)).all())
    True
    """
    images = np.array(images, copy=True)
    n, height, width = images.shape[:3]
    # every draw is made for every face, so a face's rectangle does not depend on the others
    chosen = rng.random(n) < probability
    fraction = rng.uniform(*area, n)
    ratio = np.exp(rng.uniform(np.log(aspect[0]), np.log(aspect[1]), n))
    h = np.clip(np.round(np.sqrt(fraction * height * width * ratio)), 1, height).astype(int)
    w = np.clip(np.round(np.sqrt(fraction * height * width / ratio)), 1, width).astype(int)
    top = (rng.random(n) * (height - h + 1)).astype(int)
    left = (rng.random(n) * (width - w + 1)).astype(int)
    noise = rng.integers(0, 256, images.shape, dtype=np.uint8)
    for i in np.flatnonzero(chosen):
        rows, cols = slice(top[i], top[i] + h[i]), slice(left[i], left[i] + w[i])
        images[i, rows, cols] = noise[i, rows, cols]
    return images


def transform_landmarks(
    landmarks: np.ndarray, matrices: np.ndarray, flipped: np.ndarray | None = None
) -> np.ndarray:
    """Move landmarks by the affine maps that warped their faces.

    Parameters
    ----------
    landmarks : (N, 68, 2)
        ``(x, y)`` pixel coordinates.
    matrices : (N, 2, 3)
        Forward maps.
    flipped : (N,) bool, optional
        Faces that were mirrored: their points are renumbered by
        :data:`FLIP_PERMUTATION`, so that point 36 is still the subject's right eye corner.

    Returns
    -------
    (N, 68, 2) float32
    """
    points = np.asarray(landmarks, dtype=np.float64)
    moved = points @ matrices[:, :, :2].transpose(0, 2, 1) + matrices[:, None, :, 2]
    if flipped is not None and np.any(flipped):
        moved[flipped] = moved[flipped][:, FLIP_PERMUTATION]
    return moved.astype(np.float32)


def augment_batch(
    images: np.ndarray,
    features: np.ndarray | None,
    config: AugmentConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Augment a batch of faces and, consistently, their feature vectors.

    Parameters
    ----------
    images : (N, 48, 48) uint8
    features : (N, 2728) float32 or None
        Landmarks then HOG of each face; ``None`` for a model without features.
    config : AugmentConfig
    rng : numpy.random.Generator

    Returns
    -------
    images : (N, 48, 48) uint8
        The warped (and, with ``erase``, partly erased) faces.
    features : (N, 2728) float32 or None
        Moved landmarks; the HOG recomputed on the new faces when ``mode="full"``.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.models import AugmentConfig, augment_batch
    >>> faces = np.zeros((2, 48, 48), np.uint8)
    >>> out, _ = augment_batch(faces, None, AugmentConfig(), np.random.default_rng(0))
    >>> out.shape
    (2, 48, 48)
    """
    if not config.enabled:
        return images, features
    images = np.asarray(images)
    matrices, flipped = random_affine(len(images), config, rng, size=images.shape[1])
    warped = warp_faces(images, matrices)
    if config.erase:
        warped = random_erase(warped, config.erase, rng)
    if features is None:
        return warped, None
    hog_of = warped if config.mode == "full" else None
    return warped, _moved_features(features, matrices, flipped, hog_of)


def mixup_batch(
    images: np.ndarray,
    features: np.ndarray | None,
    targets: np.ndarray,
    alpha: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Mixup (Zhang et al. 2018): blend each face with another face of the batch.

    Face ``i`` becomes ``lam[i] * face[i] + (1 - lam[i]) * face[j]`` for a random partner
    ``j``, and so do its feature vector and its target probabilities, with ``lam[i]``
    drawn from Beta(alpha, alpha) for each face.

    Parameters
    ----------
    images : (N, H, W) uint8 or float
    features : (N, F) float or None
    targets : (N, 7) float
        One-hot labels or probabilities.
    alpha : float
        Beta parameter, > 0; small values (0.2) mostly keep one face.
    rng : numpy.random.Generator

    Returns
    -------
    images : (N, H, W) float32
    features : (N, F) float32 or None
    targets : (N, 7) float32
        Rows still sum to 1.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.models import mixup_batch
    >>> faces = np.zeros((4, 48, 48), np.uint8)
    >>> targets = np.eye(7, dtype=np.float32)[[0, 1, 2, 3]]
    >>> _, _, mixed = mixup_batch(faces, None, targets, 0.2, np.random.default_rng(0))
    >>> np.allclose(mixed.sum(axis=1), 1.0)
    True
    """
    if alpha <= 0:
        raise ValueError(f"mixup alpha must be > 0, got {alpha}")
    n = len(images)
    lam = rng.beta(alpha, alpha, n).astype(np.float32)
    partner = rng.permutation(n)

    def blend(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float32)
        weight = lam.reshape((n,) + (1,) * (values.ndim - 1))
        return weight * values + (1.0 - weight) * values[partner]

    return (
        blend(images),
        None if features is None else blend(features),
        blend(targets),
    )


def mirror_batch(
    images: np.ndarray, features: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Mirror faces left to right, with the features of the mirrored faces.

    The landmarks are mirrored and renumbered by :data:`FLIP_PERMUTATION`, and the HOG is
    computed again on the mirrored faces, so the result is what extraction gives for the
    mirrored face, up to the landmark detector's own asymmetry. Test-time augmentation
    (``predict_proba(..., tta=True)``) averages a model's output on a face and on its mirror.

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
    >>> from emonet.models import mirror_batch
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
    return mirrored, _moved_features(features, matrices, np.ones(n, bool), mirrored)


def scale_batch(
    images: np.ndarray, features: np.ndarray | None, scale: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """Zoom faces about their centre, with the features of the zoomed faces.

    ``scale`` > 1 enlarges the face (its border leaves the crop), < 1 shrinks it (the
    border pixels are replicated outward), as the training augmentation's ``zoom`` does.
    The landmarks move with the face and the HOG is computed again on the zoomed face.
    Multi-scale test-time augmentation (``predict_faces(..., tta="multiscale")``)
    averages a model's outputs at several zooms.

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
    >>> from emonet.models import scale_batch
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
    return zoomed, _moved_features(features, matrices, None, zoomed)


def _moved_features(
    features: np.ndarray,
    matrices: np.ndarray,
    flipped: np.ndarray | None,
    hog_of: np.ndarray | None,
) -> np.ndarray:
    """A copy of the features of warped faces: the landmarks moved by the faces' affine
    maps (renumbered where ``flipped``), the HOG of the faces ``hog_of`` unless None."""
    features = np.array(features, dtype=np.float32, copy=True)
    n = len(features)
    landmarks = features[:, :LANDMARK_FEATURES].reshape(n, NUM_LANDMARKS, 2)
    moved = transform_landmarks(landmarks, matrices, flipped)
    features[:, :LANDMARK_FEATURES] = moved.reshape(n, LANDMARK_FEATURES)
    if hog_of is not None:
        features[:, LANDMARK_FEATURES:] = sliding_hog(hog_of)
    return features
