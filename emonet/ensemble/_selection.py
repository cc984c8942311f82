"""Greedy forward selection of an ensemble's members by cross-validated accuracy."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from emonet.ensemble._cross_validation import cross_validate_ensemble
from emonet.ensemble._weighted import WeightedEnsemble

__all__ = ["forward_select"]


def _score(probabilities: list[np.ndarray], y: np.ndarray, seed: int) -> float:
    """Accuracy of one model, or the 5-fold cross-validated accuracy of several's weights."""
    if len(probabilities) == 1:
        return float(np.mean(probabilities[0].argmax(1) == y))
    folds = cross_validate_ensemble(
        WeightedEnsemble(random_state=seed), probabilities, y, random_state=seed
    )
    return float(folds.mean())


def forward_select(
    probabilities: Mapping[str, np.ndarray],
    y: np.ndarray,
    most: int,
    seed: int = 0,
    min_gain: float = 0.001,
    sizes: Mapping[str, float] | None = None,
    budget: float = np.inf,
) -> list[tuple[str, float]]:
    """Choose an ensemble's members one at a time, by cross-validated accuracy.

    Greedy forward selection: each round tries every candidate not chosen yet beside the
    members chosen so far and keeps the one whose set scores best. A set of one model
    scores its plain accuracy; a set of several scores the mean accuracy over the held-out
    folds of 5-fold stratified cross-validation of their :class:`WeightedEnsemble` weights
    (:func:`cross_validate_ensemble`, folds and weight search both seeded by ``seed``).
    Selection stops after ``most`` members, when no candidate raises the score by
    ``min_gain`` or more, or when no candidate left fits the size budget. The first member
    is always the best model alone (if one fits).

    The score that chose the members flatters them, since it was measured on the faces
    that chose them: for an honest estimate, cross-validate the whole procedure (choose
    and weigh on part of the faces, score on the rest).

    Parameters
    ----------
    probabilities : mapping of str to array-like of shape (n_samples, n_classes)
        Each candidate's class probabilities, by name, rows describing the same samples in
        the same order (typically the validation split).
    y : array-like of shape (n_samples,)
        True label indices.
    most : int
        Members at most.
    seed : int, default=0
        Seed of the folds and of the weight search.
    min_gain : float, default=0.001
        Smallest rise of the score (a fraction: 0.001 is 0.1 point) that admits a member
        after the first.
    sizes : mapping of str to float or None, default=None
        Each candidate's size (in any unit, e.g. MB of its file); ``None``: no size limit.
    budget : float, default=inf
        The members' ``sizes`` added up at most; only candidates that still fit are tried.

    Returns
    -------
    list of (str, float)
        The members' names in the order chosen, each with the score the set reached when
        it joined (non-decreasing). Empty if no candidate fits the budget or ``most`` is 0.

    Raises
    ------
    KeyError
        If ``sizes`` is given and lacks a candidate's name.

    See Also
    --------
    WeightedEnsemble : Weights the chosen members.
    cross_validate_ensemble : The score of a set of several members.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.ensemble import forward_select
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=200)
    >>> def expert(classes):  # half the mass on the true class of the faces it knows
    ...     proba = rng.dirichlet(np.ones(3), size=200)
    ...     knows = np.isin(y, classes)
    ...     proba[knows] = 0.5 * proba[knows] + 0.5 * np.eye(3)[y[knows]]
    ...     return proba
    >>> candidates = {
    ...     "ab": expert([0, 1]), "c": expert([2]), "noise": rng.dirichlet(np.ones(3), size=200)
    ... }
    >>> forward_select(candidates, y, most=3)  # "c" adds 3 points, "noise" nothing
    [('ab', 0.75), ('c', 0.78)]
    >>> forward_select(candidates, y, most=3, min_gain=0.05)  # 3 points are not enough
    [('ab', 0.75)]
    >>> sizes = {"ab": 5.0, "c": 1.0, "noise": 1.0}  # e.g. MB
    >>> forward_select(candidates, y, most=3, sizes=sizes, budget=1.5)  # "ab" does not fit
    [('c', 0.6)]
    """
    chosen: list[tuple[str, float]] = []
    while len(chosen) < min(most, len(probabilities)):
        names = [name for name, _ in chosen]
        used = sum(sizes[n] for n in names) if sizes else 0.0
        scores = {
            name: _score([probabilities[n] for n in [*names, name]], y, seed)
            for name in probabilities
            if name not in names and (not sizes or used + sizes[name] <= budget)
        }
        if not scores:
            break  # nothing left that fits
        best = max(scores, key=scores.get)
        if chosen and scores[best] < chosen[-1][1] + min_gain:
            break  # no candidate helps enough to be worth its file and its time
        chosen.append((best, scores[best]))
    return chosen
