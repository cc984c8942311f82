"""Which detection is which track: box overlap and the Hungarian assignment."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["assign", "box_iou"]


def box_iou(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Intersection over union of every box of ``first`` with every box of ``second``.

    Parameters
    ----------
    first : (N, 4) array_like
        Boxes ``(left, top, right, bottom)``.
    second : (M, 4) array_like

    Returns
    -------
    (N, M) ndarray of float64
        In [0, 1]; 0 for boxes that do not meet (or have no area).

    Examples
    --------
    >>> from emonet.tracking import box_iou
    >>> box_iou([[0, 0, 10, 10]], [[5, 0, 15, 10], [20, 20, 30, 30]]).round(3)
    array([[0.333, 0.   ]])
    """
    a = np.asarray(first, np.float64).reshape(-1, 4)
    b = np.asarray(second, np.float64).reshape(-1, 4)
    left = np.maximum(a[:, None, 0], b[None, :, 0])
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    right = np.minimum(a[:, None, 2], b[None, :, 2])
    bottom = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def assign(cost: np.ndarray, max_cost: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs of rows and columns of least total cost (Hungarian), each at most
    ``max_cost``.

    Uses :func:`scipy.optimize.linear_sum_assignment`; pairs dearer than ``max_cost``
    (or of infinite or NaN cost) are not made, and their row and column stay unmatched.

    Parameters
    ----------
    cost : (N, M) array_like
        Cost of pairing row ``i`` (e.g. a track) with column ``j`` (e.g. a detection).
    max_cost : float
        Dearest pair kept.

    Returns
    -------
    pairs : (P, 2) ndarray of int
        ``(row, column)`` of each pair, by row.
    rows : ndarray of int
        Rows left unmatched.
    columns : ndarray of int
        Columns left unmatched.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.tracking import assign
    >>> pairs, rows, columns = assign([[0.1, 0.9], [0.2, np.inf]], max_cost=0.5)
    >>> pairs.tolist(), rows.tolist(), columns.tolist()
    ([[0, 0]], [1], [1])
    """
    matrix = np.asarray(cost, np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"cost must be a 2-D matrix, got shape {matrix.shape}")
    n_rows, n_columns = matrix.shape
    pairs = np.empty((0, 2), np.int64)
    if n_rows and n_columns:
        allowed = np.isfinite(matrix) & (matrix <= max_cost)
        # a pair not allowed costs more than any allowed set of pairs: never chosen for one
        ceiling = float(np.abs(matrix[allowed]).sum()) * 2 + 1.0 if allowed.any() else 1.0
        rows, columns = linear_sum_assignment(np.where(allowed, matrix, ceiling))
        keep = allowed[rows, columns]
        pairs = np.stack([rows[keep], columns[keep]], axis=1).astype(np.int64)
    rows_left = np.setdiff1d(np.arange(n_rows), pairs[:, 0])
    columns_left = np.setdiff1d(np.arange(n_columns), pairs[:, 1])
    return pairs, rows_left, columns_left
