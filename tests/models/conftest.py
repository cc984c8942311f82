"""A small features file of real FER2013 faces, built once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emonet import FEATURE_SIZE, LABELS
from emonet.data import read_face
from emonet.features import FeatureExtractor, FeatureSet, load_features, save_features
from emonet.models import ModelConfig, build_model

# faces per label: enough for a few real training steps, few enough for dlib (~2 ms/face)
TRAIN_PER_LABEL = 48
VAL_PER_LABEL = 12


def _pick(root: Path, split: str, per_label: int) -> list[tuple[Path, int]]:
    files = []
    for label, name in enumerate(LABELS):
        paths = sorted((root / split / name).glob("*.jpg"))
        # spread over the folder rather than the first few ids
        step = max(1, len(paths) // per_label)
        files += [(p, label) for p in paths[::step][:per_label]]
    return files


@pytest.fixture(scope="session")
def features_file(tmp_path_factory, fer_root) -> Path:
    """An emonet features file of 336 Training and 84 PublicTest real faces."""
    rows = [(p, y, "Training") for p, y in _pick(fer_root, "train", TRAIN_PER_LABEL)]
    rows += [(p, y, "PublicTest") for p, y in _pick(fer_root, "val", VAL_PER_LABEL)]
    images = np.stack([read_face(p) for p, _, _ in rows])
    part = {
        "images": images,
        "features": FeatureExtractor().transform(images).astype(np.float32),
        "labels": np.array([y for _, y, _ in rows], dtype=np.int64),
        "usage": np.array([u for _, _, u in rows]),
        "ids": np.array([p.stem for p, _, _ in rows]),
        "skipped_ids": np.array([], dtype=str),
        "skipped_reasons": np.array([], dtype=str),
    }
    path = tmp_path_factory.mktemp("features") / "fer_small.h5"
    save_features(path, [part], attrs={"source": "tests"}, n_features=FEATURE_SIZE)
    return path


@pytest.fixture(scope="session")
def feature_set(features_file) -> FeatureSet:
    return load_features(features_file)


@pytest.fixture(scope="session")
def train_set(feature_set) -> FeatureSet:
    return feature_set.select("Training")


@pytest.fixture(scope="session")
def val_set(feature_set) -> FeatureSet:
    return feature_set.select("PublicTest")


def pytest_collection_modifyitems(config, items):
    # Keras passes copy=False to numpy's __array__ of TF tensors: noise, not ours
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(
                pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
            )


#: A compact backbone small enough to train a few steps in about a second.
TINY = {"widths": [8, 16], "convs_per_block": 1, "dropout": 0.0}


#: A two-branch network on the TINY backbone.
WITH_FEATURES = ModelConfig(
    "compact", use_features=True, backbone_options=TINY, feature_units=(16,), head_units=(16,)
)


@pytest.fixture(scope="session")
def features_model(train_set):
    """An untrained ``WITH_FEATURES`` network, its features normalised on the training
    faces: predictions that differ from face to face."""
    return build_model(WITH_FEATURES, features=train_set.features)
