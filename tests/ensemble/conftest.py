"""Fixtures of synthetic prediction sets for the ensemble tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emonet.predictions import save_predictions
from tests.ensemble.ensemble_synthetic import MODEL_NAMES, make_designed_case


@pytest.fixture(scope="session")
def designed() -> tuple[list[np.ndarray], np.ndarray]:
    """700 faces of the designed case."""
    return make_designed_case(700, seed=0)


@pytest.fixture
def prediction_files(tmp_path: Path) -> dict[str, list[Path]]:
    """Validation (150 faces), test (100) and unlabelled test files of the designed case."""
    probabilities, y = make_designed_case(250, seed=1)
    ids = np.array([f"PublicTest_{index}" for index in range(250)])
    files: dict[str, list[Path]] = {"val": [], "test": [], "unlabelled": []}
    for name, proba in zip(MODEL_NAMES, probabilities, strict=True):
        files["val"].append(
            save_predictions(
                tmp_path / "val" / f"{name}.npz", proba[:150], y[:150], ids[:150], model_name=name
            )
        )
        files["test"].append(
            save_predictions(
                tmp_path / "test" / f"{name}.npz", proba[150:], y[150:], ids[150:], model_name=name
            )
        )
        files["unlabelled"].append(
            save_predictions(
                tmp_path / "unlabelled" / f"{name}.npz",
                proba[150:],
                None,
                ids[150:],
                model_name=name,
            )
        )
    return files
