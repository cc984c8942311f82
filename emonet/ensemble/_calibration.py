"""Temperature scaling of probabilities, and the expected calibration error."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from emonet.ensemble._validation import check_probabilities

__all__ = ["TemperatureScaler", "expected_calibration_error"]

# log(0) is -inf; clipping keeps a zero probability finite but far below any real one.
_EPS = 1e-15


class TemperatureScaler(BaseEstimator):
    """Recalibrate class probabilities with one temperature, fit by log-likelihood.

    The probabilities ``p`` become ``softmax(log(p) / T)``. ``T > 1`` softens overconfident
    predictions, ``T < 1`` sharpens underconfident ones; the most probable class never
    changes, so accuracy does not either (Guo et al., 2017, "On Calibration of Modern Neural
    Networks").

    Parameters
    ----------
    bounds : tuple of float, default=(0.05, 20.0)
        Range searched for the temperature.

    Attributes
    ----------
    temperature_ : float
        The temperature minimising the log-loss of the data given to ``fit``.

    See Also
    --------
    expected_calibration_error : How far confidence is from accuracy, before and after.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.ensemble import TemperatureScaler
    >>> y = np.array([0, 1, 0, 1])
    >>> overconfident = np.array([[0.99, 0.01], [0.01, 0.99], [0.99, 0.01], [0.99, 0.01]])
    >>> scaler = TemperatureScaler().fit(overconfident, y)  # 99 % sure, right 3 times in 4
    >>> round(scaler.temperature_, 2)
    4.18
    >>> scaler.transform(overconfident).round(2)[0].tolist()
    [0.75, 0.25]
    """

    def __init__(self, bounds: tuple[float, float] = (0.05, 20.0)) -> None:
        self.bounds = bounds

    def fit(self, probabilities: np.ndarray, y: np.ndarray | Sequence[int]) -> TemperatureScaler:
        """Find the temperature that minimises the log-loss of ``probabilities`` against ``y``.

        Parameters
        ----------
        probabilities : array-like of shape (n_samples, n_classes)
            Class probabilities (e.g. of an ensemble on the validation split).
        y : array-like of shape (n_samples,)
            True label indices.

        Returns
        -------
        self : TemperatureScaler
            The fitted scaler.

        Raises
        ------
        ValueError
            If ``bounds`` is not ``(low, high)`` with ``0 < low < high``, or the inputs do
            not fit.
        """
        low, high = _check_bounds(self.bounds)
        stacked, y = check_probabilities([probabilities], y)
        logits = np.log(np.clip(stacked[0], _EPS, 1.0))
        rows = np.arange(logits.shape[0])

        def log_loss(log_temperature: float) -> float:
            scaled = logits / np.exp(log_temperature)
            scaled -= scaled.max(axis=1, keepdims=True)
            log_norm = np.log(np.exp(scaled).sum(axis=1))
            return float(np.mean(log_norm - scaled[rows, y]))

        # searching log T treats "twice as soft" and "twice as sharp" alike
        result = minimize_scalar(log_loss, bounds=(np.log(low), np.log(high)), method="bounded")
        self.temperature_ = float(np.exp(result.x))
        self.n_classes_ = logits.shape[1]
        return self

    def transform(self, probabilities: np.ndarray) -> np.ndarray:
        """Apply the fitted temperature.

        Parameters
        ----------
        probabilities : array-like of shape (n_samples, n_classes)
            Class probabilities.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Recalibrated probabilities; the argmax of each row is unchanged.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the scaler is not fitted.
        """
        check_is_fitted(self, "temperature_")
        stacked, _ = check_probabilities([probabilities], n_classes=self.n_classes_)
        scaled = np.log(np.clip(stacked[0], _EPS, 1.0)) / self.temperature_
        scaled -= scaled.max(axis=1, keepdims=True)
        exp = np.exp(scaled)
        return exp / exp.sum(axis=1, keepdims=True)


def expected_calibration_error(
    probabilities: np.ndarray, y: np.ndarray | Sequence[int], *, n_bins: int = 15
) -> float:
    """Expected calibration error (ECE) of the top-class confidence.

    Samples are grouped by their highest probability into ``n_bins`` equal-width bins on
    ``(0, 1]``; the ECE is the sample-weighted mean over bins of
    ``|accuracy - mean confidence|``. 0 is perfectly calibrated; a model that says "90 %"
    and is right 70 % of the time adds about 0.2 for those samples.

    Parameters
    ----------
    probabilities : array-like of shape (n_samples, n_classes)
        Class probabilities.
    y : array-like of shape (n_samples,)
        True label indices.
    n_bins : int, default=15
        Number of confidence bins (15 as in Guo et al., 2017).

    Returns
    -------
    float
        The ECE, between 0 and 1.

    Raises
    ------
    ValueError
        If ``n_bins`` is not a positive integer or the inputs do not fit.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.ensemble import expected_calibration_error
    >>> p = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    >>> round(expected_calibration_error(p, [0, 1, 0, 0], n_bins=10), 3)
    0.4
    """
    if not isinstance(n_bins, numbers.Integral) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    stacked, y = check_probabilities([probabilities], y)
    confidence = stacked[0].max(axis=1)
    correct = stacked[0].argmax(axis=1) == y
    # bin b holds confidences in (b / n_bins, (b + 1) / n_bins]
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    gap = np.bincount(bins, weights=correct - confidence, minlength=n_bins)
    return float(np.abs(gap).sum() / counts.sum())


def _check_bounds(bounds: tuple[float, float]) -> tuple[float, float]:
    try:
        low, high = (float(value) for value in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be (low, high), got {bounds!r}") from None
    if not 0 < low < high < np.inf:
        raise ValueError(f"bounds must satisfy 0 < low < high, got {bounds!r}")
    return low, high
