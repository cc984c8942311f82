"""Shared fixtures: real FER2013 faces from ../shared/data/fer2013."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from emonet import LABELS

FER_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013"


@pytest.fixture(scope="session")
def fer_root() -> Path:
    if not (FER_ROOT / "val").is_dir():
        pytest.skip(f"FER2013 images not found at {FER_ROOT}")
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
