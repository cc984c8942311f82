"""What every ensemble of probability arrays shares: ``predict`` and ``score``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.utils.validation import check_is_fitted

from emonet.ensemble._validation import check_probabilities


class ProbabilityEnsembleMixin:
    """``predict`` and ``score`` on top of a subclass's ``predict_proba``.

    Subclasses set ``_fitted_attribute`` (checked before scoring) and, in ``fit``,
    ``n_models_`` and ``n_classes_``.
    """

    _fitted_attribute: str

    def predict(self, probabilities: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """Most probable class of each sample.

        Parameters
        ----------
        probabilities : sequence of array-like of shape (n_samples, n_classes)
            One array per model, in the order used for ``fit``.

        Returns
        -------
        ndarray of shape (n_samples,)
            Predicted label indices (the lowest index wins an exact tie).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the ensemble is not fitted.
        """
        return self.predict_proba(probabilities).argmax(axis=1)

    def score(
        self, probabilities: Sequence[np.ndarray] | np.ndarray, y: np.ndarray | Sequence[int]
    ) -> float:
        """Accuracy of :meth:`predict` against ``y`` (whatever the fitting objective).

        Parameters
        ----------
        probabilities : sequence of array-like of shape (n_samples, n_classes)
            One array per model, in the order used for ``fit``.
        y : array-like of shape (n_samples,)
            True label indices.

        Returns
        -------
        float
            Fraction of samples predicted correctly.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the ensemble is not fitted.
        """
        check_is_fitted(self, self._fitted_attribute)
        stacked, y = check_probabilities(
            probabilities, y, n_models=self.n_models_, n_classes=self.n_classes_
        )
        return float(np.mean(self.predict(stacked) == y))
