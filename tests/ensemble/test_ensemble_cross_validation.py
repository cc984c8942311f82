"""cross_validate_ensemble: fit on k-1 folds, score the held-out fold."""

from __future__ import annotations

import numpy as np
import pytest

from emonet.ensemble import StackingEnsemble, WeightedEnsemble, cross_validate_ensemble


def test_one_score_per_fold_deterministic_and_not_above_in_sample(designed) -> None:
    probabilities, y = designed
    template = WeightedEnsemble(maxiter=30, random_state=0)
    scores = cross_validate_ensemble(template, probabilities, y, n_splits=4, random_state=0)
    again = cross_validate_ensemble(template, probabilities, y, n_splits=4, random_state=0)
    assert scores.shape == (4,)
    np.testing.assert_array_equal(scores, again)
    assert np.all((scores > 0.5) & (scores <= 1.0))
    in_sample = template.fit(probabilities, y).score(probabilities, y)
    assert scores.mean() <= in_sample + 0.01


def test_the_template_is_not_fitted() -> None:
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    probabilities = [rng.dirichlet(np.ones(3), size=60) for _ in range(2)]
    template = StackingEnsemble()
    scores = cross_validate_ensemble(template, probabilities, y, n_splits=3, random_state=0)
    assert scores.shape == (3,)
    assert not hasattr(template, "classifier_")


@pytest.mark.parametrize("n_splits", [1, 701, 2.0])
def test_invalid_number_of_folds(n_splits, designed) -> None:
    probabilities, y = designed
    with pytest.raises(ValueError, match=r"n_splits must be an integer from 2 to .*\(700\)"):
        cross_validate_ensemble(WeightedEnsemble(), probabilities, y, n_splits=n_splits)
