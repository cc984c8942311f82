"""Figures of an ensemble: each model against equal and learned weights, and validation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from emonet.ensemble._calibration import TemperatureScaler, expected_calibration_error
from emonet.ensemble._cross_validation import cross_validate_ensemble
from emonet.ensemble._stacking import StackingEnsemble
from emonet.ensemble._validation import check_probabilities
from emonet.ensemble._weighted import _EPS, OBJECTIVES, WeightedEnsemble

__all__ = ["compare_weightings", "summarize_validation"]

# what the weights can optimise is what the table can measure
METRICS: tuple[str, ...] = OBJECTIVES


def compare_weightings(
    probabilities: Sequence[np.ndarray] | np.ndarray,
    y: np.ndarray | Sequence[int],
    weights: np.ndarray | Sequence[float],
    *,
    model_names: Sequence[str] | None = None,
    metric: str = "accuracy",
) -> dict[str, Any]:
    """Score each model alone, equal weights and the given weights (the paper's Table 2).

    Parameters
    ----------
    probabilities : sequence of array-like of shape (n_samples, n_classes)
        One array of class probabilities per model.
    y : array-like of shape (n_samples,)
        True label indices.
    weights : array-like of shape (n_models,)
        Learned weights, e.g. ``WeightedEnsemble.weights_``.
    model_names : sequence of str, optional
        One name per model. Default: ``"model_0"``, ``"model_1"``, ...
    metric : {"accuracy", "log_loss"}, default="accuracy"
        Fraction correct (higher is better) or mean negative log-probability of the true
        label (lower is better).

    Returns
    -------
    dict
        ``{"models": {name: value}, "best_single_model": name, "best_single": value,
        "equal_weights": value, "learned_weights": value}``, values as float.

    Raises
    ------
    ValueError
        If ``metric`` is unknown or the inputs disagree.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.ensemble import compare_weightings
    >>> y = np.array([0, 1])
    >>> a, b = np.array([[0.6, 0.4], [0.6, 0.4]]), np.array([[0.3, 0.7], [0.3, 0.7]])
    >>> table = compare_weightings([a, b], y, [0.5, 0.5], model_names=["a", "b"])
    >>> table["models"], table["best_single_model"], table["learned_weights"]
    ({'a': 0.5, 'b': 0.5}, 'a', 0.5)
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    stacked, y = check_probabilities(probabilities, y)
    n_models = stacked.shape[0]
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (n_models,):
        raise ValueError(f"weights has shape {weights.shape}; expected ({n_models},)")
    names = [f"model_{index}" for index in range(n_models)]
    if model_names is not None:
        names = [str(name) for name in model_names]
        if len(names) != n_models:
            raise ValueError(f"got {len(names)} model_names for {n_models} models")

    def value(proba: np.ndarray) -> float:
        if metric == "accuracy":
            return float(np.mean(proba.argmax(axis=1) == y))
        true_class = proba[np.arange(y.size), y]
        return float(-np.mean(np.log(np.clip(true_class, _EPS, 1.0))))

    per_model = {name: value(proba) for name, proba in zip(names, stacked, strict=True)}
    choose = max if metric == "accuracy" else min
    best = choose(per_model, key=per_model.__getitem__)
    return {
        "models": per_model,
        "best_single_model": best,
        "best_single": per_model[best],
        "equal_weights": value(stacked.mean(axis=0)),
        "learned_weights": value(np.tensordot(weights, stacked, axes=1)),
    }


def summarize_validation(
    ensemble: WeightedEnsemble,
    probabilities: Sequence[np.ndarray] | np.ndarray,
    y: np.ndarray | Sequence[int],
    *,
    n_splits: int = 5,
    random_state: int | None = None,
    n_bins: int = 15,
) -> dict[str, Any]:
    """Every figure of a fitted ensemble on the split its weights were fit on.

    Parameters
    ----------
    ensemble : WeightedEnsemble
        Fitted on ``probabilities`` and ``y``; an unfitted copy with the same parameters is
        cross-validated.
    probabilities : sequence of array-like of shape (n_samples, n_classes)
        The validation probabilities, one array per model.
    y : array-like of shape (n_samples,)
        True label indices.
    n_splits : int, default=5
        Folds of the cross-validated estimates.
    random_state : int or None, default=None
        Seed of the fold assignment.
    n_bins : int, default=15
        Bins of the expected calibration error.

    Returns
    -------
    dict
        JSON-ready: ``n_samples``; ``accuracy`` and ``log_loss``, each as returned by
        :func:`compare_weightings` (the learned weights' values are fit and scored on the
        same samples, so optimistic); ``cross_validation`` with the per-fold accuracies
        (``scores``), ``mean`` and ``std`` of the learned weights and of
        :class:`StackingEnsemble`; ``calibration`` with the ``temperature`` of
        :class:`TemperatureScaler` and the ECE before and after it. See ``docs/ensemble.md``.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``ensemble`` is not fitted.
    ValueError
        If the inputs do not fit the ensemble.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.ensemble import WeightedEnsemble, summarize_validation
    >>> y = np.array([0, 1, 2] * 4)
    >>> right, noise = np.eye(3)[y] * 0.7 + 0.1, np.full((12, 3), 1 / 3)
    >>> ensemble = WeightedEnsemble(maxiter=5, random_state=0).fit([right, noise], y)
    >>> summary = summarize_validation(ensemble, [right, noise], y, n_splits=2, random_state=0)
    >>> summary["accuracy"]["learned_weights"], summary["cross_validation"]["learned_weights"]
    (1.0, {'scores': [1.0, 1.0], 'mean': 1.0, 'std': 0.0})
    """
    check_is_fitted(ensemble, "weights_")
    stacked, y = check_probabilities(
        probabilities, y, n_models=ensemble.n_models_, n_classes=ensemble.n_classes_
    )
    names = ensemble.model_names_
    weights = ensemble.weights_

    def cross_validated(estimator: Any) -> dict[str, Any]:
        scores = cross_validate_ensemble(
            estimator, stacked, y, n_splits=n_splits, random_state=random_state
        )
        return {
            "scores": scores.tolist(),
            "mean": float(scores.mean()),
            "std": float(scores.std()),
        }

    mixed = ensemble.predict_proba(stacked)
    scaler = TemperatureScaler().fit(mixed, y)
    return {
        "n_samples": int(y.size),
        "accuracy": compare_weightings(stacked, y, weights, model_names=names),
        "log_loss": compare_weightings(stacked, y, weights, model_names=names, metric="log_loss"),
        "cross_validation": {
            "n_splits": n_splits,
            "random_state": random_state,
            "learned_weights": cross_validated(clone(ensemble)),
            "stacking": cross_validated(StackingEnsemble()),
        },
        "calibration": {
            "n_bins": n_bins,
            "temperature": scaler.temperature_,
            "ece_before": expected_calibration_error(mixed, y, n_bins=n_bins),
            "ece_after": expected_calibration_error(scaler.transform(mixed), y, n_bins=n_bins),
        },
    }
