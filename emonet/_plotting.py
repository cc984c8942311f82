"""Figures shared by the stages, drawn without pyplot.

A ``Figure`` with its own Agg canvas touches no global matplotlib state: the user's
backend and open figures stay as they were. Below every stage; imports nothing of emonet
but the constants and the atomic writes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emonet._constants import LABELS, NUM_CLASSES
from emonet._io import atomic_open


def new_figure(figsize: tuple[float, float], dpi: int = 100) -> Any:
    """A matplotlib ``Figure`` on an Agg canvas, laid out with constrained layout."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``figure`` as a PNG, atomically; return the path."""
    path = Path(path)
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png")
    return path


def plot_confusion_matrix(
    confusion: np.ndarray,
    path: str | os.PathLike[str],
    title: str = "",
    names: Sequence[str] | None = None,
) -> Path:
    """Draw a confusion matrix (counts, and row-normalised colours) into a PNG.

    Parameters
    ----------
    confusion : (K, K) array of int
        Rows true labels, columns predicted labels.
    path : str or path-like
        The PNG to write.
    title : str, optional
        Put before the accuracy in the title.
    names : sequence of str, optional
        Class names; ``emonet.LABELS`` for 7 classes, else the class numbers.

    Returns
    -------
    pathlib.Path
    """
    confusion = np.asarray(confusion)
    n = confusion.shape[0]
    if names is None:
        names = list(LABELS) if n == NUM_CLASSES else [str(i) for i in range(n)]
    rates = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    size = 1.0 + 0.8 * n
    figure = new_figure((size + 1.5, size), dpi=110)
    axis = figure.add_subplot()
    image = axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            axis.text(
                j,
                i,
                f"{confusion[i, j]}\n{rates[i, j]:.0%}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if rates[i, j] > 0.5 else "black",
            )
    axis.set_xticks(range(n), names, rotation=45, ha="right")
    axis.set_yticks(range(n), names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    accuracy = np.trace(confusion) / max(confusion.sum(), 1)
    axis.set_title((title + "  " if title else "") + f"accuracy {accuracy:.1%}")
    figure.colorbar(image, ax=axis, fraction=0.046, label="share of the true label")
    return save_figure(figure, path)
