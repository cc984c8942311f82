"""One face's explanation: its maps, the class explained and the regions' shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emonet._constants import LABELS
from emonet.explain._regions import REGIONS

#: Digits kept in :meth:`Explanation.to_dict`.
_DIGITS = 5


@dataclass(frozen=True, eq=False)
class Explanation:
    """Why a network gave a face the class it gave: a map and the regions' shares.

    Attributes
    ----------
    method : str
        ``"occlusion"``, ``"regions"`` or ``"gradcam"`` (:data:`METHODS`).
    target : int
        The class explained, an index into :data:`emonet.LABELS`.
    probability : float
        The target's probability on the whole face (the members averaged with their
        weights, without test-time augmentation).
    map : (48, 48) ndarray of float32
        Over the crop; larger where the pixels raise the target's probability more.
        ``"occlusion"``: the mean drop of the probability when a patch over the pixel is
        blurred away (signed); ``"regions"``: each region's Shapley value spread over its
        pixels (probability per pixel, signed); ``"gradcam"``: Grad-CAM in [0, 1].
    regions : dict
        ``{region: value}`` over :data:`REGIONS`. For ``"regions"``, the Shapley value:
        the change of the target's probability the region brings, its interactions with
        the others shared fairly; for the other methods, the map's mean over the region.
    landmarks : (68, 2) ndarray of float32
        The face's points in the crop, from which the regions were drawn.
    region_values : (len(REGIONS), 7) ndarray or None
        ``"regions"`` only: every class's Shapley values (columns in the order of
        :data:`emonet.LABELS`).
    rest : (7,) ndarray or None
        ``"regions"`` only: what the pixels outside every region (forehead, hair,
        background) add, per class.
    base : (7,) ndarray or None
        ``"regions"`` only: the probabilities of the face blurred whole. Efficiency:
        ``region_values.sum(0) + rest == probabilities - base``.
    probabilities : (7,) ndarray
        All classes' probabilities on the whole face.
    photo_map : (H, W) ndarray of float32 or None
        The map carried back onto the photo through the face's alignment (0 off the
        face), when the face came from a photo (:meth:`emonet.Recognizer.explain`).
    box : tuple of 4 int or None
        The face's box in the photo, when it came from one.
    transform : (2, 3) ndarray or None
        The face's alignment, photo pixels to crop pixels, when it came from a photo.
    """

    method: str
    target: int
    probability: float
    map: np.ndarray
    regions: dict[str, float]
    landmarks: np.ndarray
    probabilities: np.ndarray
    region_values: np.ndarray | None = None
    rest: np.ndarray | None = None
    base: np.ndarray | None = None
    photo_map: np.ndarray | None = field(default=None, repr=False)
    box: tuple[int, int, int, int] | None = None
    transform: np.ndarray | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """The name of the class explained."""
        return LABELS[self.target]

    def ranked_regions(self) -> list[str]:
        """:data:`REGIONS` from the one that raises the target most to the least."""
        return sorted(REGIONS, key=lambda name: -self.regions[name])

    def to_dict(self) -> dict[str, Any]:
        """The JSON record of the explanation, without its maps.

        Returns
        -------
        dict
            ``method``, ``target`` (the label), ``probability`` and ``regions``; for
            ``"regions"`` also ``rest`` and ``base`` (the target's).
        """
        record: dict[str, Any] = {
            "method": self.method,
            "target": self.label,
            "probability": round(float(self.probability), _DIGITS),
            "regions": {name: round(float(self.regions[name]), _DIGITS) for name in REGIONS},
        }
        if self.rest is not None and self.base is not None:
            record["rest"] = round(float(self.rest[self.target]), _DIGITS)
            record["base"] = round(float(self.base[self.target]), _DIGITS)
        return record
