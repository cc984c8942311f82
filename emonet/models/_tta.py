"""Test-time augmentation: the views of each face whose predictions are averaged.

A network trained on mirrored and zoomed faces answers a face a little differently at
each view; the average of its answers over a few views is more accurate than any one
of them (measured on PublicTest in docs/results.md). ``"flip"`` reads each face and its
mirror image; ``"multiscale"`` reads both at three zooms, :data:`TTA_SCALES`.
"""

from __future__ import annotations

import numpy as np

from emonet._choices import TTA_MODES, tta_mode
from emonet.features import mirror_batch, scale_batch

__all__ = ["TTA_MODES", "TTA_SCALES", "tta_mode", "tta_views"]

#: Zooms of ``"multiscale"``: the face as cropped and 10% smaller and larger, the range of
#: the training recipes' ``zoom`` augmentation.
TTA_SCALES: tuple[float, ...] = (0.9, 1.0, 1.1)


def tta_views(
    images: np.ndarray, features: np.ndarray | None, tta: bool | str | None
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """The views of faces (and of their features) that a test-time augmentation averages.

    Parameters
    ----------
    images : (N, 48, 48) uint8
    features : (N, 2728) float32 or None
        Landmarks then HOG of each face; ``None`` for a model without features. Each
        view gets the features of its own faces (:func:`~emonet.features.mirror_batch`,
        :func:`~emonet.features.scale_batch`).
    tta : bool, str or None
        A test-time augmentation, as :func:`tta_mode` reads it.

    Returns
    -------
    list of (images, features)
        The faces as they are first: 1 view for ``"none"``, 2 for ``"flip"``, 6 for
        ``"multiscale"``.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.models import tta_views
    >>> faces = np.zeros((3, 48, 48), np.uint8)
    >>> [len(tta_views(faces, None, mode)) for mode in ("none", "flip", "multiscale")]
    [1, 2, 6]
    """
    mode = tta_mode(tta)
    scales = TTA_SCALES if mode == "multiscale" else (1.0,)
    views = []
    # the faces as they are first, then their zooms
    for scale in sorted(scales, key=lambda s: s != 1.0):
        view = scale_batch(images, features, scale)
        views.append(view)
        if mode != "none":
            views.append(mirror_batch(*view))
    return views
