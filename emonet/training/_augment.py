"""Random geometric augmentation that moves the face, its landmarks and its HOG together.

The paper augments faces by random rotation (up to 10 degrees), shear, zoom and
horizontal flips. A model that also reads the feature vector should see the features
of the face it is shown, so here one random affine map per face warps the image, and
the face geometry of :mod:`emonet.features` (:func:`~emonet.features.warp_faces`,
:func:`~emonet.features.warp_features`) moves its 68 landmarks (a flip also swaps left
and right points, :data:`emonet.features.FLIP_PERMUTATION`) and computes its HOG again.
Everything works on numpy batches; :class:`emonet.training.FaceBatches` runs it on each
batch, on any backend.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from emonet._choices import AUGMENT_MODES
from emonet._config import config_from_dict
from emonet._constants import FACE_SIZE
from emonet.features import warp_faces, warp_features

__all__ = [
    "AUGMENT_MODES",
    "AugmentConfig",
    "augment_batch",
    "mixup_batch",
    "random_affine",
    "random_erase",
]

# AUGMENT_MODES (from emonet._choices): ``full``: warp faces, move landmarks, recompute
# HOG; ``image``: warp faces and move landmarks, keep the HOG of the original face
# (cheaper); ``none``: no augmentation.


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
    >>> from emonet.training import AugmentConfig
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
        integers), as :func:`emonet.features.warp_faces` and
        :func:`emonet.features.transform_landmarks` take them. A flip is included in the
        matrix.
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
    >>> from emonet.training import random_erase
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
    >>> from emonet.training import AugmentConfig, augment_batch
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
    return warped, warp_features(features, matrices, flipped, hog_of)


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
    >>> from emonet.training import mixup_batch
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
