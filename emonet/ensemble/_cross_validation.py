"""Cross-validated accuracy of an ensemble fit on part of a validation split."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from emonet.ensemble._validation import check_probabilities

__all__ = ["cross_validate_ensemble"]


def cross_validate_ensemble(
    estimator: Any,
    probabilities: Sequence[np.ndarray] | np.ndarray,
    y: np.ndarray | Sequence[int],
    *,
    n_splits: int = 5,
    random_state: int | None = None,
) -> np.ndarray:
    """Accuracy of an ensemble on each held-out fold of stratified k-fold cross-validation.

    For each fold, a fresh copy of ``estimator`` is fit on the other ``n_splits - 1`` folds
    and scored on the fold. Weights fit and scored on the same samples look better than they
    are; the mean of these scores is the number to quote for the ensemble.

    Parameters
    ----------
    estimator : WeightedEnsemble, StackingEnsemble or similar
        Unfitted template with ``fit(probabilities, y)`` and ``score(probabilities, y)``;
        it is cloned (:func:`sklearn.base.clone`) for every fold and not changed.
    probabilities : sequence of array-like of shape (n_samples, n_classes)
        One array of class probabilities per model.
    y : array-like of shape (n_samples,)
        True label indices.
    n_splits : int, default=5
        Number of folds, at least 2.
    random_state : int or None, default=None
        Seed of the shuffle that assigns samples to folds.

    Returns
    -------
    ndarray of shape (n_splits,)
        Accuracy on each held-out fold.

    Raises
    ------
    ValueError
        If ``n_splits`` is not an integer in ``2 .. n_samples`` or the inputs do not fit.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.ensemble import WeightedEnsemble, cross_validate_ensemble
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=60)
    >>> good = np.eye(3)[y] * 0.6 + rng.dirichlet(np.ones(3), size=60) * 0.4
    >>> noise = rng.dirichlet(np.ones(3), size=60)
    >>> scores = cross_validate_ensemble(
    ...     WeightedEnsemble(random_state=0), [good, noise], y, n_splits=3, random_state=0
    ... )
    >>> scores.shape, bool(scores.min() > 0.9)
    ((3,), True)
    """
    stacked, y = check_probabilities(probabilities, y)
    n_samples = stacked.shape[1]
    if not isinstance(n_splits, numbers.Integral) or not 2 <= n_splits <= n_samples:
        raise ValueError(
            f"n_splits must be an integer from 2 to the number of samples ({n_samples}), "
            f"got {n_splits!r}"
        )
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    scores = []
    for train, test in folds.split(np.zeros(n_samples), y):
        fitted = clone(estimator).fit(stacked[:, train], y[train])
        scores.append(fitted.score(stacked[:, test], y[test]))
    return np.array(scores)
