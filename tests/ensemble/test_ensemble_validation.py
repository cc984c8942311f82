"""align_predictions: several models' files must describe the same faces."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from emonet import NUM_CLASSES
from emonet.ensemble import AlignedPredictions, align_predictions
from emonet.predictions import Predictions, save_predictions


def _predictions(name: str, ids: list[str], labels=None, seed: int = 0) -> Predictions:
    proba = np.random.default_rng(seed).dirichlet(np.ones(NUM_CLASSES), size=len(ids))
    return Predictions(proba, labels=labels, ids=ids, model_name=name)


def test_rows_are_put_in_the_first_files_order() -> None:
    a = _predictions("a", ["x", "y", "z"], labels=[0, 1, 2])
    b = _predictions("b", ["z", "x", "y"], labels=[2, 0, 1], seed=1)
    aligned = align_predictions([a, b])
    assert isinstance(aligned, AlignedPredictions)
    assert aligned.ids.tolist() == ["x", "y", "z"]
    assert aligned.model_names == ["a", "b"]
    np.testing.assert_array_equal(aligned.probabilities[1], b.probabilities[[1, 2, 0]])
    np.testing.assert_array_equal(aligned.probabilities[0], a.probabilities)


def test_labels_known_to_any_file_are_merged() -> None:
    a = _predictions("a", ["x", "y", "z"], labels=[0, -1, -1])
    b = _predictions("b", ["y", "z", "x"], labels=[-1, 5, 0])
    assert align_predictions([a, b]).labels.tolist() == [0, -1, 5]


def test_paths_are_read_and_named_in_errors(tmp_path: Path) -> None:
    a = _predictions("a", ["x", "y"], labels=[0, 1])
    b = _predictions("b", ["x", "y"], labels=[0, 2])
    path_a, path_b = a.save(tmp_path / "a.npz"), b.save(tmp_path / "b.npz")
    with pytest.raises(ValueError) as error:
        align_predictions([path_a, path_b])
    message = str(error.value)
    assert message.startswith(f"{path_b} and {path_a} disagree on the labels of 1 faces")
    assert "'y': 2 vs 1" in message


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (_predictions("b", ["x", "y"]), "model 'b' has 2 rows but model 'a' has 3"),
        (
            _predictions("b", ["x", "y", "w"]),
            "model 'b' and model 'a' hold different faces: 1 ids of model 'b' (e.g. 'w')",
        ),
        (
            _predictions("b", ["x", "y", "z"], labels=[0, 3, 2]),
            "disagree on the labels of 1 faces (e.g. 'y': 3 vs 1)",
        ),
        (_predictions("a", ["x", "y", "z"]), "are both model 'a'"),
    ],
)
def test_inputs_that_disagree_are_a_clear_error(second: Predictions, message: str) -> None:
    first = _predictions("a", ["x", "y", "z"], labels=[0, 1, 2])
    with pytest.raises(ValueError, match=re.escape(message)):
        align_predictions([first, second])


def test_empty_or_single_input_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="non-empty list"):
        align_predictions([])
    path = save_predictions(tmp_path / "a.npz", np.full((2, NUM_CLASSES), 1 / NUM_CLASSES))
    with pytest.raises(ValueError, match="non-empty list"):
        align_predictions(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such prediction file"):
        align_predictions([tmp_path / "missing.npz"])
