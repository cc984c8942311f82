"""Temperature scaling and the expected calibration error."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from emonet import NUM_CLASSES
from emonet.ensemble import TemperatureScaler, expected_calibration_error


def _overconfident(n_samples: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated probabilities sharpened by temperature 1/2: too sure of themselves."""
    rng = np.random.default_rng(seed)
    calibrated = rng.dirichlet(np.ones(NUM_CLASSES), size=n_samples)
    y = np.array([rng.choice(NUM_CLASSES, p=row) for row in calibrated])
    sharp = calibrated**2
    return sharp / sharp.sum(axis=1, keepdims=True), y


def test_ece_is_zero_when_confidence_equals_accuracy() -> None:
    proba = np.tile([0.75, 0.25], (4, 1))
    assert expected_calibration_error(proba, [0, 0, 0, 1]) == pytest.approx(0.0)


def test_ece_known_value() -> None:
    proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    # bin 0.9: accuracy 0.5, gap 0.4; bin 0.6: accuracy 1.0, gap 0.4
    assert expected_calibration_error(proba, [0, 1, 0, 0], n_bins=10) == pytest.approx(0.4)


def test_temperature_scaling_recovers_the_sharpening_and_lowers_ece() -> None:
    proba, y = _overconfident()
    scaler = TemperatureScaler().fit(proba, y)
    assert scaler.temperature_ == pytest.approx(2.0, rel=0.15)
    after = scaler.transform(proba)
    assert expected_calibration_error(after, y) < expected_calibration_error(proba, y) / 2
    np.testing.assert_array_equal(after.argmax(axis=1), proba.argmax(axis=1))
    np.testing.assert_allclose(after.sum(axis=1), 1.0)


def test_temperature_one_for_calibrated_probabilities() -> None:
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.ones(NUM_CLASSES), size=3000)
    y = np.array([rng.choice(NUM_CLASSES, p=row) for row in proba])
    assert TemperatureScaler().fit(proba, y).temperature_ == pytest.approx(1.0, abs=0.1)


def test_zero_probabilities_stay_finite() -> None:
    proba = np.eye(3)[[0, 1, 2, 0]]
    scaler = TemperatureScaler().fit(proba, [0, 1, 2, 1])
    assert np.all(np.isfinite(scaler.transform(proba)))


def test_unfitted_scaler_raises_not_fitted() -> None:
    with pytest.raises(NotFittedError):
        TemperatureScaler().transform(np.full((2, 3), 1 / 3))


@pytest.mark.parametrize("bounds", [(0.0, 5.0), (3.0, 2.0), (1.0,), "ab"])
def test_invalid_bounds(bounds) -> None:
    with pytest.raises(ValueError, match="bounds must"):
        TemperatureScaler(bounds=bounds).fit(np.full((2, 3), 1 / 3), [0, 1])


@pytest.mark.parametrize("n_bins", [0, 2.5])
def test_invalid_number_of_bins(n_bins) -> None:
    with pytest.raises(ValueError, match="n_bins must be a positive integer"):
        expected_calibration_error(np.full((2, 3), 1 / 3), [0, 1], n_bins=n_bins)


def test_transform_needs_the_classes_used_for_fit() -> None:
    scaler = TemperatureScaler().fit(np.full((2, 3), 1 / 3), [0, 1])
    with pytest.raises(ValueError, match="4 classes but the estimator was fitted on 3"):
        scaler.transform(np.full((2, 4), 1 / 4))
