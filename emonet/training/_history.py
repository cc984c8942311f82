"""The history of a run: one row per epoch, as ``history.csv`` and as curves."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from emonet._io import atomic_write_text
from emonet._plotting import new_figure, save_figure

__all__ = ["history_columns", "plot_history", "write_history_csv"]


def history_columns(rows: Iterable[dict[str, Any]]) -> dict[str, list]:
    """Rows (one dict per epoch) as columns; a value missing from a row is ``None``.

    Examples
    --------
    >>> from emonet.training._history import history_columns
    >>> history_columns([{"epoch": 1, "loss": 2.0}, {"epoch": 2, "val_loss": 1.5}])
    {'epoch': [1, 2], 'loss': [2.0, None], 'val_loss': [None, 1.5]}
    """
    rows = list(rows)
    names = list(dict.fromkeys(key for row in rows for key in row))
    return {name: [row.get(name) for row in rows] for name in names}


def write_history_csv(path: str | os.PathLike[str], rows: list[dict[str, Any]]) -> Path:
    """Write the rows as CSV (floats with 6 significant digits), atomically."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})
    return atomic_write_text(path, buffer.getvalue())


def plot_history(
    history: dict[str, list] | list[dict[str, Any]], path: str | os.PathLike[str]
) -> Path:
    """Draw the training curves (loss, accuracy, learning rate) into a PNG.

    The figure is drawn without pyplot: the user's matplotlib backend and open figures
    are left alone.

    Parameters
    ----------
    history : dict of lists or list of dicts
        Columns as :attr:`TrainingResult.history`, or the rows of ``history.csv``.
    path : str or path-like
        The PNG to write.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> from emonet.training import plot_history
    >>> rows = [{"epoch": 1, "phase": 2, "learning_rate": 0.05, "loss": 1.9, "accuracy": 0.3},
    ...         {"epoch": 2, "phase": 2, "learning_rate": 0.01, "loss": 1.6, "accuracy": 0.4}]
    >>> plot_history(rows, tempfile.mkdtemp() + "/history.png").name
    'history.png'
    """
    from matplotlib.ticker import MaxNLocator

    if isinstance(history, list):
        history = history_columns(history)
    epochs = [int(e) for e in history.get("epoch", [])]
    figure = new_figure((14, 4))
    axes = figure.subplots(1, 3)
    for axis, metric in zip(axes[:2], ("loss", "accuracy"), strict=True):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + metric)
            if values and any(v not in (None, "") for v in values):
                axis.plot(
                    epochs,
                    [_number(v) for v in values],
                    style,
                    marker=".",
                    label="validation" if prefix else "training",
                )
        axis.set_title(metric)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        if axis.get_lines():
            axis.legend()
    if history.get("learning_rate"):
        axes[2].plot(epochs, [_number(v) for v in history["learning_rate"]], marker=".")
        axes[2].set_yscale("log")
    axes[2].set_title("learning rate (end of epoch)")
    axes[2].set_xlabel("epoch")
    axes[2].grid(alpha=0.3)
    phases = history.get("phase", [])
    for axis in axes:
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        for i in range(1, len(phases)):
            if phases[i] != phases[i - 1]:
                axis.axvline(epochs[i] - 0.5, color="grey", linestyle=":")
    return save_figure(figure, path)


def _number(value: Any) -> float:
    # history.csv read back gives strings, and "" where an epoch lacks a column
    return float("nan") if value in (None, "") else float(value)
