"""Is a map faithful? Deletion and insertion curves (Petsiuk et al., RISE, 2018)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from emonet._constants import FACE_SIZE
from emonet.explain._members import as_members, baseline_images, check_crops

__all__ = ["curve_auc", "deletion_insertion"]


def deletion_insertion(
    models: Any,
    crops: np.ndarray,
    maps: np.ndarray,
    targets: Sequence[int],
    *,
    steps: int = 16,
    weights: Sequence[float] | None = None,
    baseline: str = "blur",
    random_state: int = 0,
    batch_size: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """The target's probability as a map's pixels are removed, or revealed, in its order.

    Deletion blurs away the pixels the map ranks highest first: a faithful map makes the
    probability fall fast (a small area under the curve). Insertion starts from the face
    blurred whole and puts back the highest-ranked pixels first: the probability should
    rise fast (a large area). Ties in a map are broken at random.

    Parameters
    ----------
    models : keras.Model, LiteModel or list of them
        As for :func:`explain`, with ``weights``.
    crops : (N, 48, 48) uint8 array
    maps : (N, 48, 48) array_like
        One map per crop, larger for pixels that matter more.
    targets : (N,) sequence of int
        The class whose probability is tracked.
    steps : int, default=16
        Points of each curve after the first: ``48 * 48 / steps`` pixels a step.

    Returns
    -------
    deletion, insertion : (N, steps + 1) ndarray of float64
        The target's probability at 0, 1/steps, ..., all of the pixels removed (revealed).

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.explain import curve_auc, deletion_insertion
    >>> from emonet.models import build_model
    >>> model = build_model("compact", use_features=False,
    ...                     backbone_options={"widths": [4], "convs_per_block": 1})
    >>> crops = np.random.default_rng(0).integers(0, 256, (2, 48, 48), dtype=np.uint8)
    >>> deletion, insertion = deletion_insertion(model, crops, crops, [3, 3], steps=4)
    >>> deletion.shape, curve_auc(deletion).shape
    ((2, 5), (2,))
    """
    crops = check_crops(crops)
    members = as_members(models, weights, batch_size)
    maps = np.asarray(maps, np.float64).reshape(len(crops), -1)
    if maps.shape != (len(crops), FACE_SIZE * FACE_SIZE) or not np.isfinite(maps).all():
        raise ValueError(f"maps: expected ({len(crops)}, 48, 48) finite values, one per crop")
    targets = np.asarray(targets, np.int64).reshape(len(crops))
    rng = np.random.default_rng(random_state)
    # rank by the map, ties at random: lexsort's last key is the primary one
    order = np.stack([np.lexsort((rng.random(m.size), -m)) for m in maps])
    n_pixels = maps.shape[1]
    counts = np.round(np.linspace(0, n_pixels, steps + 1)).astype(int)
    rank = np.empty_like(order)
    rank[np.arange(len(order))[:, None], order] = np.arange(n_pixels)[None]
    shown = rank[:, None, :] < counts[None, :, None]  # (N, steps + 1, pixels): top-k set
    flat = crops.reshape(len(crops), 1, -1)
    blurred = baseline_images(crops, baseline).reshape(len(crops), 1, -1)
    deleted = np.where(shown, blurred, flat).reshape(-1, FACE_SIZE, FACE_SIZE)
    inserted = np.where(shown, flat, blurred).reshape(-1, FACE_SIZE, FACE_SIZE)
    pick = np.repeat(targets, steps + 1)
    both = members(np.concatenate([deleted, inserted]))
    half = len(deleted)
    deletion = both[:half][np.arange(half), pick].reshape(len(crops), steps + 1)
    insertion = both[half:][np.arange(half), pick].reshape(len(crops), steps + 1)
    return deletion, insertion


def curve_auc(curves: np.ndarray) -> np.ndarray:
    """Area under each curve of :func:`deletion_insertion`, over a unit x-axis.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.explain import curve_auc
    >>> curve_auc(np.array([[1.0, 0.5, 0.0]])).tolist()
    [0.5]
    """
    curves = np.asarray(curves, np.float64)
    steps = curves.shape[-1] - 1
    return (curves[..., 1:] + curves[..., :-1]).sum(axis=-1) / (2 * steps)
