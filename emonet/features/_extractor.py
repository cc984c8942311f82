"""The 2,728-value EmoNet feature vector as a scikit-learn transformer."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from emonet._constants import (
    FACE_SIZE,
    HOG_BLOCK_NORM,
    HOG_ORIENTATIONS,
    HOG_PIXELS_PER_CELL,
    HOG_STEP,
    HOG_WINDOW,
    LANDMARK_FEATURES,
    NUM_LANDMARKS,
)
from emonet.features._hog import BLOCK_NORMS, _cell_layout, sliding_hog
from emonet.features._landmarks import extract_landmarks


class FeatureExtractor(TransformerMixin, BaseEstimator):
    """Landmarks + sliding-window HOG of 48x48 faces, as in the EmoNet paper.

    ``transform`` returns, per face, the 136 landmark coordinates ``x0, y0, x1, y1,
    ..., x67, y67`` (pixels in the face) followed by the 2,592 HOG values of
    :func:`sliding_hog` (window by window, rows outer; cell by cell within a window;
    orientation bins innermost). :meth:`get_feature_names_out` names every column.

    The extractor learns nothing: ``fit`` only checks the parameters, and ``transform``
    works without it. An empty batch, shape (0, 48, 48) or ``[]``, gives an empty
    (0, 2728) array, so that ``transform(crop_faces(photo)[0])`` holds for a photo with
    no face as for any other.

    Parameters
    ----------
    window, step, orientations, pixels_per_cell, block_norm
        The HOG parameters of :func:`sliding_hog`.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.features import FeatureExtractor
    >>> faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    >>> FeatureExtractor().transform(faces).shape
    (3, 2728)
    >>> FeatureExtractor().transform(np.empty((0, 48, 48), np.uint8)).shape
    (0, 2728)
    """

    def __init__(
        self,
        window: int = HOG_WINDOW,
        step: int = HOG_STEP,
        orientations: int = HOG_ORIENTATIONS,
        pixels_per_cell: int = HOG_PIXELS_PER_CELL,
        block_norm: str = HOG_BLOCK_NORM,
    ):
        self.window = window
        self.step = step
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.block_norm = block_norm

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags

    def _check_params(self) -> None:
        if self.block_norm not in BLOCK_NORMS:
            raise ValueError(f"block_norm must be one of {BLOCK_NORMS}, got {self.block_norm!r}")
        for name in ("window", "step", "orientations", "pixels_per_cell"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.window < self.pixels_per_cell:
            # no window would hold a cell: features of landmarks alone, silently
            raise ValueError(
                f"window ({self.window} px) is smaller than pixels_per_cell "
                f"({self.pixels_per_cell} px): no window holds a cell, so there is no HOG "
                "value; choose window >= pixels_per_cell"
            )

    @staticmethod
    def _check_images(images) -> np.ndarray:
        images = np.asarray(images)
        if images.shape == (0,):  # [] : no faces, of no dtype
            images = np.empty((0, FACE_SIZE, FACE_SIZE), np.uint8)
        if images.ndim == 2:
            images = images[None]
        if images.ndim != 3 or images.shape[1:] != (FACE_SIZE, FACE_SIZE):
            raise ValueError(
                f"expected 48x48 grayscale faces, shape (N, 48, 48), got {images.shape}; "
                "crop photos with emonet.features.crop_faces first"
            )
        if images.dtype != np.uint8:
            raise ValueError(f"expected uint8 faces, got dtype {images.dtype}")
        return images

    def fit(self, images=None, y=None) -> FeatureExtractor:
        """Check the parameters; the extractor has nothing to learn.

        Parameters
        ----------
        images : ignored
        y : ignored

        Returns
        -------
        FeatureExtractor
            self
        """
        self._check_params()
        self.n_features_out_ = self.n_features_out
        return self

    @property
    def n_features_out(self) -> int:
        """Length of the feature vector: 136 + the HOG length (2,728 by default)."""
        layout = _cell_layout(FACE_SIZE, FACE_SIZE, self.window, self.step, self.pixels_per_cell)
        return LANDMARK_FEATURES + layout.shape[1] * self.orientations

    def transform_parts(self, images) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks and HOG separately.

        Parameters
        ----------
        images : (N, 48, 48) or (48, 48) uint8 array_like
            Grayscale face crops.

        Returns
        -------
        landmarks : (N, 68, 2) ndarray of float32
        hog : (N, n_hog) ndarray of float32

        Raises
        ------
        ValueError
            If the faces are not 48x48 uint8, or a parameter is invalid.
        """
        self._check_params()
        images = self._check_images(images)
        hog = sliding_hog(
            images,
            self.window,
            self.step,
            self.orientations,
            self.pixels_per_cell,
            self.block_norm,
        )
        return extract_landmarks(images), hog.astype(np.float32)

    def transform(self, images) -> np.ndarray:
        """The feature vectors of faces.

        Parameters
        ----------
        images : (N, 48, 48) or (48, 48) uint8 array_like
            Grayscale face crops; N may be 0.

        Returns
        -------
        (N, n_features_out) ndarray of float32
            Landmark coordinates, then HOG; (0, n_features_out) for no faces.

        Raises
        ------
        ValueError
            If the faces are not 48x48 uint8, or a parameter is invalid.
        """
        landmarks, hog = self.transform_parts(images)
        # an explicit width: reshape(0, -1) cannot tell it
        return np.concatenate([landmarks.reshape(len(landmarks), LANDMARK_FEATURES), hog], axis=1)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the output columns.

        ``landmark{i}_x`` / ``landmark{i}_y`` for the 68 points, then
        ``hog_y{Y}_x{X}_cell{R}{C}_bin{B}`` for window origin ``(Y, X)``, cell row and
        column in the window, and orientation bin.

        Returns
        -------
        ndarray of str
        """
        self._check_params()
        names = [f"landmark{i}_{axis}" for i in range(NUM_LANDMARKS) for axis in "xy"]
        cell = self.pixels_per_cell
        for y in range(0, FACE_SIZE, self.step):
            for x in range(0, FACE_SIZE, self.step):
                rows = min(self.window, FACE_SIZE - y) // cell
                cols = min(self.window, FACE_SIZE - x) // cell
                names += [
                    f"hog_y{y}_x{x}_cell{r}{c}_bin{b}"
                    for r in range(rows)
                    for c in range(cols)
                    for b in range(self.orientations)
                ]
        return np.asarray(names, dtype=object)
