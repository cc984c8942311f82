"""StackingEnsemble: logistic regression on all models' log-probabilities."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from emonet import NUM_CLASSES
from emonet.ensemble import StackingEnsemble


def test_stacking_learns_which_model_to_trust_for_which_class(designed) -> None:
    probabilities, y = designed
    stacking = StackingEnsemble().fit([p[:500] for p in probabilities], y[:500])
    held_out = [p[500:] for p in probabilities]
    best_single = max(np.mean(p.argmax(axis=1) == y[500:]) for p in held_out)
    assert stacking.score(held_out, y[500:]) > best_single + 0.2
    proba = stacking.predict_proba(held_out)
    assert proba.shape == (200, NUM_CLASSES)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert stacking.n_models_ == 4
    assert stacking.classes_.tolist() == list(range(NUM_CLASSES))


def test_classes_absent_from_fit_get_zero_probability(designed) -> None:
    probabilities, y = designed
    seen = y != 1
    stacking = StackingEnsemble().fit([p[seen] for p in probabilities], y[seen])
    proba = stacking.predict_proba(probabilities)
    assert proba.shape == (700, NUM_CLASSES)
    assert np.all(proba[:, 1] == 0)


def test_unfitted_raises_not_fitted(designed) -> None:
    probabilities, y = designed
    with pytest.raises(NotFittedError):
        StackingEnsemble().predict(probabilities)
    with pytest.raises(NotFittedError):
        StackingEnsemble().score(probabilities, y)


@pytest.mark.parametrize(
    ("params", "message"),
    [({"C": 0}, "C must be a positive number"), ({"max_iter": 0}, "max_iter must be")],
)
def test_invalid_parameters(params: dict, message: str, designed) -> None:
    probabilities, y = designed
    with pytest.raises(ValueError, match=message):
        StackingEnsemble(**params).fit(probabilities, y)


def test_one_class_is_not_enough(designed) -> None:
    probabilities, y = designed
    with pytest.raises(ValueError, match="at least two classes"):
        StackingEnsemble().fit(probabilities, np.zeros_like(y))
