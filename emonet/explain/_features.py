"""What the EmoNet features tell a two-branch network: their 2,728 values grouped by
landmark part and by HOG window."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from emonet._constants import FACE_SIZE, LABELS, LANDMARK_FEATURES
from emonet.explain._members import baseline_images, check_crops
from emonet.features import LANDMARK_PARTS, FeatureExtractor
from emonet.models import FEATURES_INPUT, predict_crops

__all__ = ["FeatureAttribution", "explain_features"]

_WINDOW = re.compile(r"hog_y(\d+)_x(\d+)_")


@dataclass(frozen=True, eq=False)
class FeatureAttribution:
    """What each group of a face's features adds to the target's probability.

    Attributes
    ----------
    target : int
        The class explained (index into :data:`emonet.LABELS`).
    probability : float
        Its probability with the face's own features.
    landmarks : dict
        ``{part: drop}`` over :data:`emonet.features.LANDMARK_PARTS`: how much the
        target's probability falls when that part's landmark coordinates are replaced by
        those of the face blurred (the face itself left as it is).
    windows : dict
        ``{(y, x): drop}`` per HOG window origin, likewise for its HOG values.
    map : (48, 48) ndarray of float32
        The windows' drops spread over the pixels they cover (mean over the windows
        that hold a pixel).
    """

    target: int
    probability: float
    landmarks: dict[str, float]
    windows: dict[tuple[int, int], float]
    map: np.ndarray

    @property
    def label(self) -> str:
        """The name of the class explained."""
        return LABELS[self.target]


def feature_groups(names: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Group names and the group of each feature: landmark parts, then HOG windows."""
    point_part = {}
    for part, indices in LANDMARK_PARTS.items():
        for index in indices:
            point_part[index] = part
    labels = list(LANDMARK_PARTS)
    group = np.empty(len(names), np.int64)
    for i, name in enumerate(names):
        if i < LANDMARK_FEATURES:
            group[i] = labels.index(point_part[i // 2])
            continue
        match = _WINDOW.match(str(name))
        key = f"{match[1]},{match[2]}"
        if key not in labels:
            labels.append(key)
        group[i] = labels.index(key)
    return labels, group


def explain_features(
    model: Any,
    crops: np.ndarray,
    target: int | None = None,
    *,
    baseline: str = "blur",
    batch_size: int = 256,
) -> list[FeatureAttribution]:
    """Attribute a two-branch network's reading of its 2,728 features to their groups.

    Each group (the landmark coordinates of one part of the face, or the HOG values of
    one window) in turn takes the values it has on the face blurred, while the image
    input and the other features stay; the fall of the target's probability is the
    group's attribution. Forward passes only: int8 models too.

    Parameters
    ----------
    model : keras.Model or LiteModel
        A network that reads features (``emonet_info.uses_features``).
    crops : (N, 48, 48) uint8 array
    target : int, optional
        The class explained; default the one given to each face.
    baseline : {"blur", "mean"}, default="blur"

    Returns
    -------
    list of FeatureAttribution

    Raises
    ------
    ValueError
        If the model reads no features.

    Examples
    --------
    >>> from emonet.explain import explain_features
    >>> from emonet.models import load_model
    >>> model = load_model("runs/compact_features/model.keras")  # doctest: +SKIP
    >>> (attribution,) = explain_features(model, face)  # doctest: +SKIP
    >>> max(attribution.landmarks, key=attribution.landmarks.get)  # doctest: +SKIP
    'mouth'
    """
    info = getattr(model, "emonet_info", None)
    names = getattr(model, "input_names", None) or [t.name for t in model.inputs]
    if FEATURES_INPUT not in names:
        raise ValueError(
            f"{getattr(model, 'name', 'model')}: reads no features; explain its image "
            "branch with emonet.explain.explain(method='occlusion' or 'regions')"
        )
    crops = check_crops(crops)
    extractor = info.feature_extractor() if info is not None else FeatureExtractor()
    names, group = feature_groups(extractor.get_feature_names_out())
    own = extractor.transform(crops).astype(np.float32)
    blurred = extractor.transform(baseline_images(crops, baseline)).astype(np.float32)
    n_groups = len(names)
    out = []
    for i, face in enumerate(crops):
        vectors = np.repeat(own[i : i + 1], n_groups + 1, axis=0)
        for g in range(n_groups):
            vectors[g + 1, group == g] = blurred[i, group == g]
        faces = np.repeat(face[None], n_groups + 1, axis=0)
        probabilities = predict_crops(model, faces, vectors, batch_size=batch_size)
        t = int(probabilities[0].argmax()) if target is None else int(target)
        drops = probabilities[0, t] - probabilities[1:, t]
        parts = {name: float(d) for name, d in zip(names, drops, strict=True) if "," not in name}
        windows = {
            tuple(int(v) for v in name.split(",")): float(d)
            for name, d in zip(names, drops, strict=True)
            if "," in name
        }
        heat, cover = np.zeros((FACE_SIZE, FACE_SIZE)), np.zeros((FACE_SIZE, FACE_SIZE))
        for (y, x), drop in windows.items():
            heat[y : y + extractor.window, x : x + extractor.window] += drop
            cover[y : y + extractor.window, x : x + extractor.window] += 1
        out.append(
            FeatureAttribution(
                target=t,
                probability=float(probabilities[0, t]),
                landmarks=parts,
                windows=windows,
                map=(heat / np.maximum(cover, 1)).astype(np.float32),
            )
        )
    return out
