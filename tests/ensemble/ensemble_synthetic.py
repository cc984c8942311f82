"""Synthetic prediction sets for the ensemble tests and benchmark (no trained models exist yet)."""

from __future__ import annotations

import numpy as np

from emonet import NUM_CLASSES

#: Classes on which each of the three useful models is an expert; the fourth is useless.
EXPERTISE = ((0, 1, 2), (3, 4), (5, 6))
MODEL_NAMES = ("upper", "middle", "lower", "useless")


def make_designed_case(n_samples: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Four models with a known best weighting.

    Each of the first three models puts 40 % extra mass on the true class for faces of its
    expert classes and is uniform-random noise elsewhere, so averaging the three lets every
    expert win on its own classes. The fourth is peaked random noise: any weight on it only
    hurts, so the optimum gives it (almost) nothing.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, NUM_CLASSES, size=n_samples)
    probabilities = []
    for classes in EXPERTISE:
        proba = rng.dirichlet(np.ones(NUM_CLASSES), size=n_samples)
        expert = np.isin(y, classes)
        proba[expert] = 0.6 * proba[expert] + 0.4 * np.eye(NUM_CLASSES)[y[expert]]
        probabilities.append(proba)
    probabilities.append(rng.dirichlet(np.full(NUM_CLASSES, 0.3), size=n_samples))
    return probabilities, y
