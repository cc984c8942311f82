"""Stacking: a logistic regression on all models' log-probabilities, to compare with weights."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from emonet.ensemble._base import ProbabilityEnsembleMixin
from emonet.ensemble._validation import check_probabilities

__all__ = ["StackingEnsemble"]

# Log-probabilities are clipped here: a hard 0 would be -inf, and -35 would dominate the fit.
_FEATURE_FLOOR = 1e-6


class StackingEnsemble(ProbabilityEnsembleMixin, BaseEstimator):
    """Multinomial logistic regression on the concatenated log-probabilities of all models.

    The log-probabilities are standardised first (which also lets L-BFGS converge in a few
    dozen iterations instead of hundreds).

    A comparison for :class:`WeightedEnsemble`: stacking can learn that one model is good
    at some classes and another at others, at the price of ``n_models * n_classes + 1``
    parameters per class instead of one weight per model, which it can overfit on a small
    validation split.

    Parameters
    ----------
    C : float, default=1.0
        Inverse strength of the L2 penalty of the logistic regression.
    max_iter : int, default=1000
        Maximum number of L-BFGS iterations.

    Attributes
    ----------
    classifier_ : sklearn.pipeline.Pipeline
        The fitted ``StandardScaler`` and ``LogisticRegression``.
    n_models_ : int
        Number of models seen in ``fit``.
    n_classes_ : int
        Number of classes seen in ``fit``.
    classes_ : ndarray of shape (n_classes,)
        The class indices ``0 .. n_classes - 1``.

    See Also
    --------
    WeightedEnsemble : The paper's ensemble, one weight per model.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.ensemble import StackingEnsemble
    >>> y = np.array([0, 1, 2] * 10)
    >>> p = np.eye(3)[y] * 0.7 + 0.1
    >>> StackingEnsemble().fit([p, p[::-1]], y).score([p, p[::-1]], y)
    1.0
    """

    _fitted_attribute = "classifier_"

    def __init__(self, C: float = 1.0, max_iter: int = 1000) -> None:
        self.C = C
        self.max_iter = max_iter

    def fit(
        self, probabilities: Sequence[np.ndarray] | np.ndarray, y: np.ndarray | Sequence[int]
    ) -> StackingEnsemble:
        """Fit the logistic regression on held-out probabilities and true labels.

        Parameters
        ----------
        probabilities : sequence of array-like of shape (n_samples, n_classes)
            One array of class probabilities per model, rows describing the same samples.
        y : array-like of shape (n_samples,)
            True label indices; at least two distinct classes.

        Returns
        -------
        self : StackingEnsemble
            The fitted ensemble.

        Raises
        ------
        ValueError
            If a parameter is invalid or the inputs do not fit.
        """
        if not isinstance(self.C, numbers.Real) or not self.C > 0:
            raise ValueError(f"C must be a positive number, got {self.C!r}")
        if not isinstance(self.max_iter, numbers.Integral) or self.max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        stacked, y = check_probabilities(probabilities, y)
        if np.unique(y).size < 2:
            raise ValueError("stacking needs samples of at least two classes in y")
        self.classifier_: Pipeline = make_pipeline(
            StandardScaler(), LogisticRegression(C=self.C, max_iter=self.max_iter)
        )
        self.classifier_.fit(_features(stacked), y)
        self.n_models_ = stacked.shape[0]
        self.n_classes_ = stacked.shape[2]
        self.classes_ = np.arange(self.n_classes_)
        return self

    def predict_proba(self, probabilities: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """Class probabilities of the stacked model.

        Parameters
        ----------
        probabilities : sequence of array-like of shape (n_samples, n_classes)
            One array per model, in the order used for ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities; classes absent from the labels given to ``fit`` get 0.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the ensemble is not fitted.
        """
        check_is_fitted(self, "classifier_")
        stacked, _ = check_probabilities(
            probabilities, n_models=self.n_models_, n_classes=self.n_classes_
        )
        proba = np.zeros((stacked.shape[1], self.n_classes_))
        proba[:, self.classifier_.classes_] = self.classifier_.predict_proba(_features(stacked))
        return proba


def _features(stacked: np.ndarray) -> np.ndarray:
    """(n_models, n_samples, n_classes) probabilities -> (n_samples, n_models * n_classes)."""
    logs = np.log(np.clip(stacked, _FEATURE_FLOOR, 1.0))
    return logs.transpose(1, 0, 2).reshape(stacked.shape[1], -1)
