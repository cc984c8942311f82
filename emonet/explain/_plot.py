"""Pictures of an explanation: its map over the face or photo, and the regions' bars."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from emonet._constants import FACE_SIZE
from emonet._image import to_grayscale_uint8
from emonet._plotting import new_figure, save_figure
from emonet.explain._regions import REGIONS
from emonet.explain._result import Explanation

__all__ = ["overlay_map", "overlay_photo", "plot_regions"]


def overlay_map(
    image: np.ndarray, heat: np.ndarray, alpha: float = 0.5, where: np.ndarray | None = None
) -> np.ndarray:
    """A map drawn over an image, in colour: red where it is high, blue where low.

    A signed map is scaled by its largest absolute value (negative half blue, zero
    green-cyan), a map >= 0 by its maximum.

    Parameters
    ----------
    image : (H, W) or (H, W, 3) array
        The face crop or photo (RGB), uint8.
    heat : (H, W) array_like
        The map, at the image's size.
    alpha : float, default=0.5
        The map's opacity.
    where : (H, W) bool array, optional
        Where to draw it (e.g. the face's crop on a photo); default everywhere.

    Returns
    -------
    (H, W, 3) uint8 RGB

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.explain import overlay_map
    >>> overlay_map(np.zeros((48, 48), np.uint8), np.ones((48, 48))).shape
    (48, 48, 3)
    """
    image = np.asarray(image)
    rgb = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
    rgb = to_grayscale_uint8(rgb)[..., None].repeat(3, axis=2)  # the face in grey
    heat = np.asarray(heat, np.float64)
    if heat.shape != rgb.shape[:2]:
        raise ValueError(f"heat: expected the image's shape {rgb.shape[:2]}, got {heat.shape}")
    top = np.abs(heat).max()
    scaled = heat / top if top > 0 else heat
    if heat.min() < 0:
        scaled = (scaled + 1) / 2
    colour = cv2.applyColorMap(np.uint8(np.clip(scaled, 0, 1) * 255), cv2.COLORMAP_JET)
    colour = cv2.cvtColor(colour, cv2.COLOR_BGR2RGB)
    mixed = (1 - alpha) * rgb + alpha * colour
    if where is not None:
        mixed = np.where(np.asarray(where, bool)[..., None], mixed, rgb)
    return np.clip(np.round(mixed), 0, 255).astype(np.uint8)


def plot_regions(
    explanation: Explanation, path: str | os.PathLike[str], title: str | None = None
) -> Path:
    """A bar chart of an explanation's region attributions, written as a PNG.

    Parameters
    ----------
    explanation : Explanation
    path : str or path-like
        The PNG written (atomically).
    title : str, optional
        Default the method, label and probability.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> from emonet.explain import plot_regions
    >>> plot_regions(explanation, "regions.png")  # doctest: +SKIP
    """
    values = np.array([explanation.regions[name] for name in REGIONS])
    names = list(REGIONS)
    if explanation.rest is not None:
        values = np.append(values, explanation.rest[explanation.target])
        names.append("rest")
    figure = new_figure((4.2, 2.8), dpi=90)
    axes = figure.add_subplot()
    colours = ["#c0392b" if v > 0 else "#2c7fb8" for v in values]
    axes.barh(names[::-1], values[::-1], color=colours[::-1])
    axes.axvline(0, color="black", linewidth=0.8)
    unit = {
        "regions": "Shapley value (probability)",
        "occlusion": "mean drop of probability",
        "gradcam": "mean Grad-CAM",
    }.get(explanation.method, "value")
    axes.set_xlabel(unit)
    axes.set_title(
        title or f"{explanation.method}: {explanation.label} {explanation.probability:.0%}",
        fontsize=10,
    )
    axes.tick_params(labelsize=8)
    return save_figure(figure, path)


def overlay_photo(image: np.ndarray, explanations: list[Explanation]) -> np.ndarray:
    """A photo with each face's map drawn over the area its crop covers.

    Parameters
    ----------
    image : (H, W) or (H, W, 3) uint8 array
        The photo (RGB).
    explanations : list of Explanation
        Its faces' explanations, of :meth:`emonet.Recognizer.explain` (with
        ``photo_map`` and ``transform``); others are left out.

    Returns
    -------
    (H, W, 3) uint8 RGB
        The faces' areas in grey under their maps, the rest of the photo as it was.

    Examples
    --------
    >>> from skimage import data
    >>> from emonet.explain import overlay_photo
    >>> overlay_photo(data.astronaut(), []).shape
    (512, 512, 3)
    """
    out = np.asarray(image)
    if out.ndim == 2:
        out = np.repeat(out[..., None], 3, axis=2)
    height, width = out.shape[:2]
    for item in explanations:
        if item.photo_map is None or item.transform is None:
            continue
        where = cv2.warpAffine(
            np.ones((FACE_SIZE, FACE_SIZE), np.float32), item.transform, (width, height),
            flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT, borderValue=0.0,
        ) > 0.5  # fmt: skip
        out = np.where(where[..., None], overlay_map(out, item.photo_map), out)
    return out.astype(np.uint8)
