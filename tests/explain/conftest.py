"""Real faces and a small network trained by the tests to read one region only."""

from __future__ import annotations

import numpy as np
import pytest

from emonet.explain import REGIONS, region_masks
from emonet.features import extract_landmarks
from emonet.models import ModelConfig, build_model, save_model

MOUTH = REGIONS.index("mouth")
#: The two classes the mouth model tells apart: what is written into the mouth.
DARK, BRIGHT = 0, 3  # "angry", "happy"


@pytest.fixture(scope="session")
def faces_with_points(val_faces):
    """64 real PublicTest faces (every 4th) and their dlib landmarks."""
    images = val_faces[0][::4][:64]
    return images, extract_landmarks(images)


def write_label(images, points, labels, rng):
    """The faces with their label written into the mouth: dark for DARK, bright for
    BRIGHT (with noise), the rest of the face as it was."""
    out = images.copy()
    for image, pts, label in zip(out, points, labels, strict=True):
        mask = region_masks(pts)[MOUTH]
        level = 20 if label == DARK else 235
        image[mask] = np.clip(level + rng.normal(0, 12, mask.sum()), 0, 255).astype(np.uint8)
    return out


@pytest.fixture(scope="session")
def mouth_model(faces_with_points, tmp_path_factory):
    """A float network trained a few steps on faces whose label is written into their
    mouth: the mouth is all it can read (the faces are shared by both classes). Returns
    (the .keras path, the model, held-out faces, their points, their labels)."""
    import keras

    images, points = faces_with_points
    rng = np.random.default_rng(0)
    # every face twice, once of each class: nothing but the mouth tells them apart; small
    # batches, so that the batch normalisation statistics settle in a few seconds
    train_images = np.concatenate([images[:48], images[:48]])
    train_points = np.concatenate([points[:48], points[:48]])
    labels = np.repeat([DARK, BRIGHT], 48)
    x = write_label(train_images, train_points, labels, rng)
    keras.utils.set_random_seed(0)
    model = build_model(
        ModelConfig(
            "compact",
            use_features=False,
            backbone_options={"widths": [8, 16], "convs_per_block": 1, "dropout": 0.0},
            head_units=(16,),
            dropout=0.0,
        )
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit({"face": x[..., None].astype("float32")}, labels, epochs=8, batch_size=4, verbose=0)
    path = save_model(model, tmp_path_factory.mktemp("mouth") / "mouth.keras")
    test_labels = np.array([DARK, BRIGHT] * 8)
    test = write_label(images[48:64], points[48:64], test_labels, rng)
    return path, model, test, points[48:64], test_labels
