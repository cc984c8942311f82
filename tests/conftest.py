"""Shared fixtures: real FER2013 faces from ../shared/data/fer2013; Hypothesis profiles.

Tests that need the faces are skipped where the folder is missing, except under
``CI=true``: there a missing folder fails them, so that a third of the suite cannot pass
unseen.

Hypothesis runs a fixed set of examples by default (``derandomize``: every run tries the
same inputs, so a test cannot pass on one run and fail on the next); fuzz further with
``pytest --hypothesis-profile=fuzz``.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from emonet import LABELS

FER_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013"

# no deadline: a busy machine must not fail a test by its wall clock
settings.register_profile("default", derandomize=True, deadline=None, database=None)
settings.register_profile("fuzz", max_examples=2000, deadline=None, database=None)
settings.load_profile("default")


@pytest.fixture(scope="session")
def fer_root() -> Path:
    if not (FER_ROOT / "val").is_dir():
        message = f"FER2013 images not found at {FER_ROOT} (expected its val/ folder)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI needs them, or a third of the tests would not run")
        pytest.skip(message)
    return FER_ROOT


@pytest.fixture(scope="session")
def val_files(fer_root) -> list[tuple[Path, int]]:
    """40 PublicTest files per label (fewer for the rare ones), in a stable order."""
    files = []
    for label, name in enumerate(LABELS):
        paths = sorted((fer_root / "val" / name).glob("*.jpg"))[:40]
        files += [(p, label) for p in paths]
    return files


@pytest.fixture(scope="session")
def val_faces(val_files) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 48, 48) uint8, labels (N,)) of ``val_files``."""
    import cv2

    images = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p, _ in val_files])
    return images, np.array([label for _, label in val_files])


#: The sizes of the smallest networks the tests build (untrained, or trained a few steps):
#: one home, so that a test of saving, loading or recognizing does not pay for a real one.
TINY_SIZES = {"backbone_options": {"widths": [4, 8]}, "feature_units": [8], "head_units": [8]}


def tiny_config(variant: str = "compact", **overrides):
    """The :class:`emonet.models.ModelConfig` of a ``variant`` at :data:`TINY_SIZES`."""
    from emonet.models import variant_config

    return variant_config(variant, **{**TINY_SIZES, **overrides})


def write_fer2013_csv(path: Path, images: np.ndarray, labels, usages) -> Path:
    """Write faces in the layout of the original fer2013.csv."""
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["emotion", "pixels", "Usage"])
        for image, label, usage in zip(images, labels, usages, strict=True):
            writer.writerow([int(label), " ".join(map(str, image.ravel())), usage])
    return path


@pytest.fixture(scope="session")
def fer_csv(tmp_path_factory, val_faces) -> Path:
    """A fer2013.csv of the real faces of ``val_faces``, usages cycling over the three."""
    images, labels = val_faces
    usages = [("Training", "PublicTest", "PrivateTest")[i % 3] for i in range(len(images))]
    return write_fer2013_csv(
        tmp_path_factory.mktemp("csv") / "fer2013.csv", images, labels, usages
    )
