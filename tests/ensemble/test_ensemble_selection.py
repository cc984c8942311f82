"""forward_select: greedy forward selection of an ensemble's members."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emonet import NUM_CLASSES
from emonet.ensemble import WeightedEnsemble, cross_validate_ensemble, forward_select
from tests.ensemble.ensemble_synthetic import MODEL_NAMES, make_designed_case

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def case() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The designed case on 300 faces: three experts and one useless model, by name."""
    probabilities, y = make_designed_case(300, seed=0)
    return dict(zip(MODEL_NAMES, probabilities, strict=True)), y


def _accuracy(proba: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(proba.argmax(1) == y))


def _sharp(y: np.ndarray, seed: int = 5) -> np.ndarray:
    """A model far better than any of the designed case's: a quarter of the mass on the
    true class of every face."""
    noise = np.random.default_rng(seed).dirichlet(np.ones(NUM_CLASSES), size=len(y))
    return 0.75 * noise + 0.25 * np.eye(NUM_CLASSES)[y]


def test_a_clearly_better_member_is_chosen_first_with_its_plain_accuracy(case):
    probabilities, y = case
    candidates = {**probabilities, "sharp": _sharp(y)}
    accuracies = {name: _accuracy(p, y) for name, p in candidates.items()}
    assert accuracies["sharp"] > max(_accuracy(p, y) for p in probabilities.values()) + 0.2

    chosen = forward_select(candidates, y, most=3)

    assert chosen[0] == ("sharp", accuracies["sharp"])  # one model: its accuracy, no folds


def test_the_first_member_is_the_best_alone_and_the_useless_model_never_joins(case):
    probabilities, y = case
    best_alone = max(probabilities, key=lambda name: _accuracy(probabilities[name], y))

    chosen = forward_select(probabilities, y, most=4)
    names = [name for name, _ in chosen]

    assert names[0] == best_alone == "upper"
    assert sorted(names) == ["lower", "middle", "upper"]  # all three experts, in some order
    scores = [score for _, score in chosen]
    assert all(later >= earlier + 0.001 for earlier, later in itertools.pairwise(scores))


def test_a_set_of_several_scores_its_cross_validated_weights(case):
    probabilities, y = case
    (first, _), (second, score) = forward_select(probabilities, y, most=2, seed=3, min_gain=0.0)
    folds = cross_validate_ensemble(
        WeightedEnsemble(random_state=3),
        [probabilities[first], probabilities[second]],
        y,
        random_state=3,
    )
    assert score == float(folds.mean())


def test_it_stops_when_the_best_gain_falls_below_min_gain(case):
    probabilities, y = case
    full = forward_select(probabilities, y, most=4, min_gain=0.0)
    assert len(full) == 4  # with no gain asked for, every candidate joins
    gains = [later - earlier for (_, earlier), (_, later) in itertools.pairwise(full)]
    assert gains[0] > gains[1]  # the designed case: the second member helps most

    between = (gains[0] + gains[1]) / 2  # the second member is worth it, the third not
    assert forward_select(probabilities, y, most=4, min_gain=between) == full[:2]
    assert forward_select(probabilities, y, most=4, min_gain=1.0) == full[:1]


@pytest.mark.parametrize("most", [0, 1, 2])
def test_it_chooses_at_most_most_members(case, most):
    probabilities, y = case
    chosen = forward_select(probabilities, y, most=most, min_gain=0.0)
    assert len(chosen) == most
    assert chosen == forward_select(probabilities, y, most=4, min_gain=0.0)[:most]


def test_more_members_asked_than_there_are_candidates(case):
    probabilities, y = case
    assert len(forward_select(probabilities, y, most=10, min_gain=0.0)) == len(probabilities)


def test_it_honours_the_size_limit(case):
    probabilities, y = case
    sizes = {"upper": 3.0, "middle": 1.0, "lower": 1.0, "useless": 1.0}

    chosen = forward_select(probabilities, y, most=4, min_gain=0.0, sizes=sizes, budget=2.5)
    names = [name for name, _ in chosen]

    assert "upper" not in names  # the best alone, but too large on its own
    assert len(names) == 2 and sum(sizes[n] for n in names) <= 2.5
    # the best alone of those that fit
    fitting = [n for n in probabilities if sizes[n] <= 2.5]
    assert names[0] == max(fitting, key=lambda n: _accuracy(probabilities[n], y))


def test_a_budget_is_inclusive_and_nothing_fits_none(case):
    probabilities, y = case
    sizes = dict.fromkeys(probabilities, 1.0)
    exact = forward_select(probabilities, y, most=4, min_gain=0.0, sizes=sizes, budget=2.0)
    assert len(exact) == 2  # 1 + 1 <= 2
    assert forward_select(probabilities, y, most=4, sizes=sizes, budget=0.5) == []


def test_without_sizes_the_budget_is_ignored(case):
    probabilities, y = case
    assert forward_select(probabilities, y, most=4, budget=0.0) == forward_select(
        probabilities, y, most=4
    )


def test_it_is_deterministic_for_a_seed(case):
    probabilities, y = case
    copies = {name: p.copy() for name, p in probabilities.items()}
    first = forward_select(probabilities, y, most=4, seed=7, min_gain=0.0)
    again = forward_select(copies, y.copy(), most=4, seed=7, min_gain=0.0)
    assert first == again


@pytest.mark.slow
def test_the_selection_script_uses_it(prediction_files, tmp_path):
    from emonet.ensemble import align_predictions

    files = [str(path) for path in prediction_files["val"]]
    names_out = tmp_path / "members.txt"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "presets" / "select_members.py"),
            *files,
            "--max",
            "3",
            "--no-nested",
            "--names-out",
            str(names_out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr

    aligned = align_predictions(files)
    probabilities = dict(zip(aligned.model_names, aligned.probabilities, strict=True))
    expected = forward_select(probabilities, aligned.labels, 3)
    assert names_out.read_text().split() == [name for name, _ in expected]
    assert f"1. + {expected[0][0]}" in done.stdout
