"""The history of a run: its curves, drawn from the columns or from history.csv."""

from __future__ import annotations

import csv

import matplotlib
import pytest

from emonet.training import plot_history


@pytest.fixture
def user_backend():
    """The user's matplotlib backend, which drawing must leave alone."""
    before = matplotlib.get_backend()
    yield before
    assert matplotlib.get_backend() == before


def test_plot_history_from_columns_and_from_the_csv(user_backend, tmp_path):
    columns = {
        "epoch": [1, 2, 3],
        "phase": [1, 2, 2],
        "learning_rate": [1e-3, 1e-3, 5e-4],
        "loss": [1.9, 1.6, 1.5],
        "accuracy": [0.3, 0.4, 0.45],
        "val_loss": [1.8, 1.7, 1.6],
        "val_accuracy": [0.32, 0.38, 0.41],
    }
    assert plot_history(columns, tmp_path / "a.png").stat().st_size > 0
    rows = [{name: values[i] for name, values in columns.items()} for i in range(3)]
    with open(tmp_path / "history.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows[:2] + [{**rows[2], "val_loss": "", "val_accuracy": ""}])
    with open(tmp_path / "history.csv") as stream:
        read = list(csv.DictReader(stream))  # strings, and "" where a value is missing
    assert plot_history(read, tmp_path / "b.png").stat().st_size > 0
