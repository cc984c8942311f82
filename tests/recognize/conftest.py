"""Tiny real models, saved as emonet saves them, and photos composed from real ones."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from emonet.ensemble import WeightedEnsemble
from emonet.models import build_model, save_model
from tests.conftest import tiny_config


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict:
    """Two untrained tiny members (one reads features), their ensemble and a preset."""
    from emonet.recognize import save_preset

    folder = tmp_path_factory.mktemp("tiny")
    pixels, fused = tiny_config("compact"), tiny_config("compact_features")
    paths = [
        save_model(build_model(config), folder / f"{config.model_name}.keras", model_config=config)
        for config in (pixels, fused)
    ]
    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, 70)
    good = np.eye(7)[y] * 0.5 + rng.dirichlet(np.ones(7), 70) * 0.5
    noise = rng.dirichlet(np.ones(7), 70)
    names = [path.stem for path in paths]  # the ensemble names its members
    ensemble = WeightedEnsemble(random_state=0).fit([good, noise], y, model_names=names)
    ensemble_path = ensemble.save(folder / "ensemble.json")
    preset = save_preset(
        folder / "preset", paths, ensemble_path, description="two tiny models", tta=True
    )
    return {
        "paths": paths,
        "ensemble": ensemble_path,
        "weights": ensemble.weights_,
        "preset": preset,
    }


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's astronaut photo (RGB, 512x512): one face at (179, 83, 266, 170)."""
    return data.astronaut()


@pytest.fixture(scope="session")
def two_faces(astronaut) -> np.ndarray:
    """The astronaut beside her mirror image: two faces."""
    return np.ascontiguousarray(np.concatenate([astronaut, astronaut[:, ::-1]], axis=1))


@pytest.fixture(scope="session")
def no_face() -> np.ndarray:
    """scikit-image's coffee cup: no face."""
    return data.coffee()


@pytest.fixture(scope="session")
def small_face(astronaut) -> np.ndarray:
    """The astronaut shrunk so that her face is about 40 px wide."""
    return cv2.resize(astronaut, (236, 236), interpolation=cv2.INTER_AREA)
