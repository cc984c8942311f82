"""Sliding-window HOG, vectorised over a batch and bit-identical to scikit-image.

The EmoNet paper slides a 24-pixel window in steps of 6 over the 48x48 face and
computes ``skimage.feature.hog`` in every window. Looping over windows costs about
5 ms a face; this module computes the same numbers for a whole batch at once.

How it stays exact
------------------
``skimage.feature.hog`` computes the gradient of each window on its own (zero on the
window's border), takes ``hypot`` and ``arctan2`` of it, and sums the magnitudes of
each cell and orientation bin in float32, pixel by pixel in row-major order, before
normalising each 1x1 block. Here:

* every window cell lies at a distinct place in the face, so the 18 x 18 cells of all
  windows are gathered from the whole face's gradient, with the gradient zeroed where
  a window's border runs through the cell;
* for integer images the gradient components are integers in [-255, 255], so the
  magnitude and the orientation bin of every possible pair are computed once, with the
  very numpy calls scikit-image makes, and looked up;
* the float32 sums run over the 64 pixels of a cell in scikit-image's order, each step
  vectorised over every cell of the batch.
"""

from __future__ import annotations

import functools

import numpy as np

from emonet._constants import (
    HOG_BLOCK_NORM,
    HOG_ORIENTATIONS,
    HOG_PIXELS_PER_CELL,
    HOG_STEP,
    HOG_WINDOW,
)

BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")
_EPS = 1e-5  # scikit-image's _hog_normalize_block default
_MAX_GRADIENT = 255  # uint8 images: gradient components lie in [-255, 255]


@functools.lru_cache(maxsize=16)
def _cell_layout(height: int, width: int, window: int, step: int, cell: int) -> np.ndarray:
    """Where each pixel of each window cell reads its gradient, in skimage's order.

    Gradients are precomputed in three variants per image, laid end to end: as in the
    whole image (offset 0), with the row component zeroed (offset ``H*W``), with the
    column component zeroed (offset ``2*H*W``), plus one zero-gradient entry at
    ``3*H*W``. A window zeroes the row (column) component on its first and last row
    (column); everywhere else its gradient equals the whole image's.

    Returns
    -------
    (cell * cell, n_cells) intp
        Index into the variants of pixel ``k`` (row-major in the cell) of each cell,
        cells ordered by window (rows outer), then row and column within the window.
    """
    n_pixels = height * width
    offsets = np.arange(cell)
    cells = []
    for y in range(0, height, step):
        rows = min(window, height - y)
        for x in range(0, width, step):
            cols = min(window, width - x)
            for i in range(rows // cell):
                r = (y + i * cell + offsets)[:, None]
                on_row_border = (r == y) | (r == y + rows - 1)
                for j in range(cols // cell):
                    c = (x + j * cell + offsets)[None, :]
                    on_col_border = (c == x) | (c == x + cols - 1)
                    variant = on_row_border * 1 + on_col_border * 2
                    index = np.where(
                        variant == 3, 3 * n_pixels, variant * n_pixels + r * width + c
                    )
                    cells.append(index.ravel())
    if not cells:
        return np.empty((cell * cell, 0), np.intp)
    layout = np.ascontiguousarray(np.array(cells, dtype=np.intp).T)
    layout.setflags(write=False)
    return layout


def _orientation_bins(g_row: np.ndarray, g_col: np.ndarray, orientations: int) -> np.ndarray:
    """Orientation bin of each gradient, as skimage's ``hog_histograms`` assigns it.

    Bin ``i`` takes angles in ``[i * w, (i + 1) * w)`` degrees with ``w = 180 /
    orientations`` held in float32; an angle at or past the last edge (possible when
    float32 rounds the edge below 180) falls in no bin and gets index ``orientations``.
    """
    orientation = np.rad2deg(np.arctan2(g_row, g_col)) % 180
    per_bin = np.float32(180.0 / orientations)
    edges = (per_bin * np.arange(1, orientations + 1, dtype=np.float32)).astype(np.float64)
    return np.searchsorted(edges, orientation, side="right")


@functools.lru_cache(maxsize=4)
def _integer_gradient_tables(orientations: int) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude and orientation bin of every integer gradient pair, indexed by
    ``(g_row + 255) * 511 + (g_col + 255)``; computed with skimage's own numpy calls."""
    values = np.arange(-_MAX_GRADIENT, _MAX_GRADIENT + 1, dtype=np.float64)
    g_row, g_col = np.meshgrid(values, values, indexing="ij")
    g_row, g_col = np.ascontiguousarray(g_row), np.ascontiguousarray(g_col)
    magnitude = np.hypot(g_col, g_row).ravel()
    small = np.int8 if orientations < np.iinfo(np.int8).max else np.int16
    bins = _orientation_bins(g_row, g_col, orientations).ravel().astype(small)
    magnitude.setflags(write=False)
    bins.setflags(write=False)
    return magnitude, bins


def _gradient_variants(images: np.ndarray, orientations: int) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude (float64) and bin (small int) of each pixel's gradient in the
    variants that :func:`_cell_layout` indexes, image-minor: (3 * H * W + 1, N) each."""
    n, height, width = images.shape
    size = height * width
    work = np.int32 if images.dtype == np.uint8 else np.float64
    # image-minor, so that one pixel of every image in the batch is one contiguous row
    images = np.ascontiguousarray(images.transpose(1, 2, 0), dtype=work)
    g_row = np.zeros((3 * size + 1, n), dtype=work)
    g_col = np.zeros((3 * size + 1, n), dtype=work)
    rows = g_row[:size].reshape(height, width, n)
    cols = g_col[:size].reshape(height, width, n)
    np.subtract(images[2:], images[:-2], out=rows[1:-1])
    np.subtract(images[:, 2:], images[:, :-2], out=cols[:, 1:-1])
    g_row[2 * size : 3 * size] = g_row[:size]
    g_col[size : 2 * size] = g_col[:size]
    if work is np.int32:
        magnitude_table, bin_table = _integer_gradient_tables(orientations)
        g_row += _MAX_GRADIENT
        g_row *= 2 * _MAX_GRADIENT + 1
        g_row += g_col
        g_row += _MAX_GRADIENT
        return magnitude_table.take(g_row), bin_table.take(g_row)
    return np.hypot(g_col, g_row), _orientation_bins(g_row, g_col, orientations)


def _cell_histograms(
    magnitude: np.ndarray, bins: np.ndarray, layout: np.ndarray, orientations: int
) -> np.ndarray:
    """Per-cell orientation histograms, summed in float32 in skimage's pixel order.

    ``magnitude`` and ``bins`` are :func:`_gradient_variants` (image-minor, so each
    step gathers whole rows of N values), ``layout`` is :func:`_cell_layout`; returns
    (N, cells, orientations) float64.
    """
    n = magnitude.shape[1]
    n_pixels, n_cells = layout.shape
    n_bins = orientations + 1  # the last bin catches angles that fall in no bin
    base = (np.arange(n_cells * n, dtype=np.intp) * n_bins).reshape(n_cells, n)
    totals = np.zeros(n_cells * n * n_bins, dtype=np.float32)
    step = np.empty((n_cells, n), dtype=np.float32)
    for pixel in layout:
        at = bins[pixel] + base
        # C's ``float total += double magnitude``: add in float64, round to float32
        np.add(totals[at], magnitude[pixel], out=step, dtype=np.float64, casting="unsafe")
        totals[at] = step
    totals = totals.reshape(n_cells, n, n_bins)[..., :orientations].transpose(1, 0, 2)
    return (totals / np.float32(n_pixels)).astype(np.float64)


def _pairwise_sum(values: np.ndarray) -> np.ndarray:
    """Sum over the last axis in the order numpy's pairwise summation uses for one block.

    ``np.sum`` over a short contiguous vector adds sequentially below 8 elements and
    through 8 interleaved accumulators from 8 to 128; the batched reduction here
    reproduces that order so the normalisation matches skimage bit for bit.
    """
    n = values.shape[-1]
    if n > 128:  # numpy splits longer vectors in halves rounded down to a multiple of 8
        half = n // 2 - (n // 2) % 8
        return _pairwise_sum(values[..., :half]) + _pairwise_sum(values[..., half:])
    if n < 8:
        total = values[..., 0].copy()
        for i in range(1, n):
            total += values[..., i]
        return total
    acc = [values[..., j].copy() for j in range(8)]
    for i in range(8, n - n % 8, 8):
        for j in range(8):
            acc[j] += values[..., i + j]
    total = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
    for i in range(n - n % 8, n):
        total += values[..., i]
    return total


def _normalize_cells(hist: np.ndarray, block_norm: str) -> np.ndarray:
    """skimage's ``_hog_normalize_block`` applied to every 1x1 block at once."""
    if block_norm == "L1":
        return hist / (_pairwise_sum(np.abs(hist)) + _EPS)[..., None]
    if block_norm == "L1-sqrt":
        return np.sqrt(hist / (_pairwise_sum(np.abs(hist)) + _EPS)[..., None])
    out = hist / np.sqrt(_pairwise_sum(hist**2) + _EPS**2)[..., None]
    if block_norm == "L2-Hys":
        out = np.minimum(out, 0.2)
        out = out / np.sqrt(_pairwise_sum(out**2) + _EPS**2)[..., None]
    return out


def _no_cell_message(shape: tuple, single: bool, window: int, cell: int) -> str:
    """Why no window of images of ``shape`` holds a whole cell, and what to do."""
    height, width = shape[1:]
    if window < cell:
        return (
            f"window ({window} px) is smaller than pixels_per_cell ({cell} px): no window "
            "holds a cell, so there is no HOG value; choose window >= pixels_per_cell"
        )
    advice = f"pass images at least {cell}x{cell} pixels (faces are 48x48)"
    if not single and width in (3, 4) and height >= cell:
        # (H, W, 3) read as H images of W x 3
        advice = (
            f"shape {shape} looks like one colour image (H, W, {width}): convert it to "
            "grayscale first"
        )
    return (
        f"images of {height}x{width} pixels are smaller than one {cell}x{cell} HOG cell, so "
        f"they have no HOG value; {advice}"
    )


def sliding_hog(
    images: np.ndarray,
    window: int = HOG_WINDOW,
    step: int = HOG_STEP,
    orientations: int = HOG_ORIENTATIONS,
    pixels_per_cell: int = HOG_PIXELS_PER_CELL,
    block_norm: str = HOG_BLOCK_NORM,
    *,
    batch_size: int = 64,
) -> np.ndarray:
    """Histogram of oriented gradients in a sliding window, for a batch of faces.

    Equal, bit for bit, to calling ``skimage.feature.hog(w, orientations=orientations,
    pixels_per_cell=(pixels_per_cell,) * 2, cells_per_block=(1, 1),
    block_norm=block_norm)`` on every window ``w = image[y:y + window, x:x + window]``
    for ``y`` and ``x`` in ``range(0, size, step)`` (rows outer), and concatenating the
    results; windows narrower than one cell contribute nothing. For 48x48 faces and
    the defaults that is 2,592 values.

    Parameters
    ----------
    images : (N, H, W) or (H, W) array_like
        Grayscale images, uint8 (fast path) or any real dtype.
    window : int, optional
        Side of the square sliding window in pixels.
    step : int, optional
        Distance between consecutive window positions in pixels.
    orientations : int, optional
        Number of unsigned orientation bins over 0-180 degrees.
    pixels_per_cell : int, optional
        Side of a square HOG cell in pixels.
    block_norm : {'L1', 'L1-sqrt', 'L2', 'L2-Hys'}, optional
        Normalisation of each one-cell block, as in scikit-image. scikit-image used
        ``'L1'`` by default before version 0.15, and ``'L2-Hys'`` since.
    batch_size : int, optional
        Images processed at once (about 150 kB of working memory each); the default
        keeps the working set in the CPU cache.

    Returns
    -------
    (N, F) or (F,) ndarray of float64
        The descriptors, one row per image; 1-D for a single 2-D image.

    Raises
    ------
    ValueError
        If the images are not 2-D grayscale, hold NaN or infinite values, are smaller
        than one cell (a colour image ``(H, W, 3)`` reads as H images of W x 3 and is
        refused so), or a parameter is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.features import sliding_hog
    >>> faces = np.random.default_rng(0).integers(0, 256, (2, 48, 48), dtype=np.uint8)
    >>> sliding_hog(faces).shape
    (2, 2592)
    """
    images = np.asarray(images)
    single = images.ndim == 2
    if single:
        images = images[None]
    if images.ndim != 3:
        raise ValueError(
            f"images must be (N, H, W) or (H, W) grayscale, got shape {images.shape}; "
            "convert colour images to grayscale first"
        )
    if block_norm not in BLOCK_NORMS:
        raise ValueError(f"block_norm must be one of {BLOCK_NORMS}, got {block_norm!r}")
    for name, value in [
        ("window", window),
        ("step", step),
        ("orientations", orientations),
        ("pixels_per_cell", pixels_per_cell),
        ("batch_size", batch_size),
    ]:
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise ValueError(f"images must hold real numbers, got dtype {images.dtype}")
    if images.dtype != np.uint8 and np.issubdtype(images.dtype, np.integer):
        images = images.astype(np.float64)
    if images.dtype != np.uint8:
        bad = ~np.isfinite(images).all(axis=(1, 2))
        if bad.any():
            where = "the image" if single else f"image {int(np.flatnonzero(bad)[0])}"
            raise ValueError(
                f"{where} holds NaN or infinite values, which have no gradient; replace "
                "them (e.g. np.nan_to_num) or pass the uint8 image"
            )

    layout = _cell_layout(*images.shape[1:], window, step, pixels_per_cell)
    if layout.shape[1] == 0:
        raise ValueError(_no_cell_message(images.shape, single, window, pixels_per_cell))
    n_features = layout.shape[1] * orientations
    out = np.empty((images.shape[0], n_features), dtype=np.float64)
    for start in range(0, images.shape[0], batch_size):
        batch = images[start : start + batch_size]
        magnitude, bins = _gradient_variants(batch, orientations)
        hist = _cell_histograms(magnitude, bins, layout, orientations)
        out[start : start + batch_size] = _normalize_cells(hist, block_norm).reshape(
            len(batch), -1
        )
    return out[0] if single else out


def sliding_hog_reference(
    image: np.ndarray,
    window: int = HOG_WINDOW,
    step: int = HOG_STEP,
    orientations: int = HOG_ORIENTATIONS,
    pixels_per_cell: int = HOG_PIXELS_PER_CELL,
    block_norm: str = HOG_BLOCK_NORM,
) -> np.ndarray:
    """The sliding-window HOG of one image as a plain loop over ``skimage.feature.hog``.

    The definition :func:`sliding_hog` reproduces; slow (about 5 ms a face), kept for
    tests, benchmarks and readers who want the method in five lines.

    Parameters
    ----------
    image : (H, W) ndarray
        One grayscale image.
    window, step, orientations, pixels_per_cell, block_norm
        As in :func:`sliding_hog`.

    Returns
    -------
    (F,) ndarray of float64
        The concatenated descriptors of all windows at least one cell wide and tall.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.features import sliding_hog, sliding_hog_reference
    >>> face = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    >>> bool(np.array_equal(sliding_hog_reference(face), sliding_hog(face)))
    True
    """
    from skimage.feature import hog

    size_y, size_x = image.shape
    parts = []
    for y in range(0, size_y, step):
        for x in range(0, size_x, step):
            w = image[y : y + window, x : x + window]
            if min(w.shape) < pixels_per_cell:
                continue  # skimage raises on windows narrower than one cell
            parts.append(
                hog(
                    w,
                    orientations=orientations,
                    pixels_per_cell=(pixels_per_cell, pixels_per_cell),
                    cells_per_block=(1, 1),
                    block_norm=block_norm,
                )
            )
    return np.concatenate(parts) if parts else np.empty(0)
