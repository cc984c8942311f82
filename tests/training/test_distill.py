"""Distillation: the targets it makes, a student that learns its teacher, and the command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emonet.cli import distill as distill_cli
from emonet.features import FeatureSet
from emonet.models import build_model, save_model, variant_config
from emonet.training import (
    AugmentConfig,
    TrainingConfig,
    augmented_views,
    distill,
    distillation_targets,
)
from tests.models.conftest import TINY


def _entropy(p: np.ndarray) -> np.ndarray:
    return -(p * np.log(p)).sum(axis=1)


def test_targets_soften_the_teacher_and_mix_in_the_labels():
    rng = np.random.default_rng(0)
    teacher = rng.dirichlet(np.full(7, 0.3), 50)
    labels = rng.integers(0, 7, 50)
    np.testing.assert_allclose(distillation_targets(teacher, labels, 1.0, 0.0), teacher, rtol=1e-6)
    np.testing.assert_array_equal(
        distillation_targets(teacher, labels, 3.0, 1.0), np.eye(7)[labels]
    )
    soft = distillation_targets(teacher, labels, 4.0, 0.0)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(soft.argmax(axis=1), teacher.argmax(axis=1))
    assert (_entropy(soft) > _entropy(teacher)).all()
    with pytest.raises(ValueError, match="7 probabilities for each of the 50 faces"):
        distillation_targets(teacher[:, :6], labels)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        distillation_targets(teacher, labels, temperature=0)
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]"):
        distillation_targets(teacher, labels, alpha=1.5)


def test_a_student_learns_its_teacher_rather_than_the_labels(train_set, val_set):
    # a teacher that calls every face "happy": the student, taught by it alone, says so too
    teacher = np.full((len(train_set), 7), 0.01)
    teacher[:, 3] = 0.94
    config = TrainingConfig.cpu(
        epochs=3, batch_size=32, augment=AugmentConfig(mode="none"), mixed_precision=None
    )
    student = variant_config("compact", backbone_options=TINY)
    result = distill(
        train_set, teacher, val_set, student, config, temperature=1.0, alpha=0.0, verbose=0
    )
    predicted = result.model.predict({"face": val_set.images[..., None]}, verbose=0).argmax(1)
    assert np.mean(predicted == 3) > 0.9
    assert np.mean(val_set.labels == 3) < 0.2  # the labels would not have taught that


def _command(features_file, tmp_path, *options: str):
    """A tiny teacher, the student's run folder, and emonet-distill's arguments for one
    quick epoch of a tiny student taught by it."""
    config = variant_config("compact", backbone_options=TINY)
    teacher = save_model(build_model(config), tmp_path / "teacher.keras", model_config=config)
    out = tmp_path / "student"
    argv = [
        str(features_file),
        "--variant",
        "compact",
        "--out",
        str(out),
        "--teacher-models",
        str(teacher),
        *options,
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--backbone-option",
        "widths=[4,8]",
        "--mixed-precision",
        "fp32",
        "-q",
    ]
    return teacher, out, argv


def test_the_command_trains_a_student_and_keeps_the_teachers_probabilities(
    features_file, tmp_path, capsys
):
    teacher, out, argv = _command(features_file, tmp_path, "--temperature", "3")
    assert distill_cli.main(argv) == 0
    shown = capsys.readouterr().out
    assert "teacher: 1 models" in shown and "PublicTest accuracy" in shown
    for name in ("model.keras", "config.json", "teacher.npz", "distill.json"):
        assert (out / name).is_file(), name
    record = json.loads((out / "distill.json").read_text())
    assert record["temperature"] == 3.0 and record["alpha"] == 0.5
    assert record["teacher"]["models"] == [str(teacher)]
    run = json.loads((out / "config.json").read_text())
    assert run["training"]["label_smoothing"] == 0.0  # off unless asked: the targets are soft
    with np.load(out / "teacher.npz") as saved:
        probabilities = saved["probabilities"]
    assert probabilities.shape == (336, 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # a second run reuses the teacher's probabilities
    assert distill_cli.main([*argv, "--overwrite"]) == 0
    assert "teacher probabilities from" in capsys.readouterr().out


def test_augmented_views_copy_each_face_view_by_view_and_repeat_with_the_seed(train_set):
    faces = FeatureSet(
        *(
            a[:40]
            for a in (
                train_set.images,
                train_set.features,
                train_set.labels,
                train_set.usage,
                train_set.ids,
            )
        )
    )
    augment = AugmentConfig(flip=False, translate=0.1)
    views = augmented_views(faces, augment, 3, seed=5, batch_size=16)
    assert len(views) == 120 and views.images.dtype == np.uint8
    for name in ("labels", "usage", "ids"):
        np.testing.assert_array_equal(getattr(views, name), np.tile(getattr(faces, name), 3))
    copies = views.images.reshape(3, 40, 48, 48).astype(int)
    assert (copies != faces.images).any(axis=(2, 3)).mean() > 0.9  # warped, nearly all
    assert (copies[0] != copies[1]).any(axis=(1, 2)).all()  # and differently in each view
    # each copy stays near its own face rather than any other (the warps are small)
    distance = np.abs(copies[0][:, None] - faces.images[None].astype(int)).mean(axis=(2, 3))
    assert np.mean(distance.argmin(axis=1) == np.arange(40)) > 0.9
    # the landmarks moved with the face; the HOG was computed again on it ("full" mode)
    assert not np.allclose(views.landmarks[:40], faces.landmarks)
    assert np.abs(views.landmarks[:40] - faces.landmarks).max() < 15
    again = augmented_views(faces, augment, 3, seed=5, batch_size=16)
    np.testing.assert_array_equal(again.images, views.images)
    np.testing.assert_array_equal(again.features, views.features)
    other = augmented_views(faces, augment, 3, seed=6, batch_size=16)
    assert not np.array_equal(other.images, views.images)
    # without features: the same faces, no landmarks or HOG
    bare = augmented_views(faces, augment, 3, seed=5, batch_size=16, with_features=False)
    np.testing.assert_array_equal(bare.images, views.images)
    assert bare.features.shape == (120, 0) and len(bare) == 120
    with pytest.raises(ValueError, match="views must be >= 1, got 0"):
        augmented_views(faces, augment, 0)
    with pytest.raises(ValueError, match="its mode is 'none'"):
        augmented_views(faces, AugmentConfig(mode="none"), 2)


def test_the_command_teaches_on_augmented_views(features_file, feature_set, tmp_path, capsys):
    _, out, argv = _command(features_file, tmp_path, "--teacher-tta", "--teacher-views", "2")
    assert distill_cli.main(argv) == 0
    assert "(2 augmented copies of each)" in capsys.readouterr().out
    faces = np.sum(feature_set.usage == "Training")
    with np.load(out / "teacher.npz") as saved:
        assert saved["probabilities"].shape == (2 * faces, 7)
        np.testing.assert_array_equal(saved["ids"], np.tile(saved["ids"][:faces], 2))
    teacher = json.loads((out / "distill.json").read_text())["teacher"]
    views = teacher["views"]
    assert views["count"] == 2 and views["augment"]["flip"] is False
    assert teacher["tta"] is True  # --teacher-tta alone: flip, written as before
    assert views["augment"]["rotation"] > 0  # the recipe's warps go into the views
    # the student only mirrors the views: the flip-averaging teacher answers both alike
    augment = json.loads((out / "config.json").read_text())["training"]["augment"]
    assert augment["flip"] is True
    assert augment["rotation"] == augment["zoom"] == augment["erase"] == 0
    # without flip averaging the mirrors go into the views, and the student adds nothing
    assert distill_cli.main([*argv, "--no-teacher-tta", "--overwrite"]) == 0
    teacher = json.loads((out / "distill.json").read_text())["teacher"]
    assert teacher["views"]["augment"]["flip"] and teacher["tta"] is False
    augment = json.loads((out / "config.json").read_text())["training"]["augment"]
    assert augment["mode"] == "none"


def test_the_command_gives_the_views_features_for_a_student_that_reads_them(
    features_file, tmp_path, capsys
):
    # the copies of a pixels-only teacher carry no features unless the student reads them
    _, out, argv = _command(features_file, tmp_path, "--teacher-views", "2")
    assert distill_cli.main([*argv, "--variant", "compact_features"]) == 0
    run = json.loads((out / "config.json").read_text())
    assert run["model"]["use_features"] is True
    assert "PublicTest accuracy" in capsys.readouterr().out


def test_the_command_names_a_bad_teacher_argument(features_file, tmp_path, capsys):
    base = [str(features_file), "--variant", "compact", "--out", str(tmp_path / "s")]
    assert distill_cli.main([*base, "--teacher-models", str(tmp_path / "missing.keras")]) == 2
    assert "missing.keras: no such teacher model" in capsys.readouterr().err
    assert distill_cli.main([*base, "--alpha", "2"]) == 2
    assert "--alpha must lie in [0, 1], got 2.0" in capsys.readouterr().err
    assert distill_cli.main([*base, "--teacher-ensemble", "e.json"]) == 2
    assert "--teacher-ensemble needs --teacher-models" in capsys.readouterr().err
    assert distill_cli.main([*base, "--teacher-views", "-1"]) == 2
    assert "--teacher-views must be >= 0" in capsys.readouterr().err
    assert distill_cli.main([*base, "--teacher-views", "4", "--augment", "none"]) == 2
    assert "--teacher-views needs an augmentation" in capsys.readouterr().err
