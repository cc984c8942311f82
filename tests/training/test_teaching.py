"""Teaching a student: the teacher file's format (read by emonet-distill and
presets/gpu_members.py) and the policy of consistent teaching."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emonet.features import FeatureSet
from emonet.training import (
    TEACHER_FILE,
    AugmentConfig,
    TeacherProbabilities,
    TrainingConfig,
    describe_teacher,
    teaching_views,
)


def _faces(n: int = 6) -> FeatureSet:
    rng = np.random.default_rng(0)
    return FeatureSet(
        rng.integers(0, 256, (n, 48, 48), dtype=np.uint8),
        rng.uniform(0, 1, (n, 2728)).astype(np.float32),
        np.arange(n) % 7,
        np.array(["Training"] * n),
        np.array([f"face{i}" for i in range(n)]),
    )


def test_a_teacher_is_described_as_earlier_files_describe_it():
    assert describe_teacher(preset="default", tta=None) == {
        "preset": "default",
        "models": [],
        "ensemble": None,
        "tta": None,  # the preset's own setting
    }
    own = describe_teacher(models=["runs/a", "runs/b"], ensemble="e.json", tta="flip")
    assert own["models"] == ["runs/a", "runs/b"] and own["tta"] is True
    assert describe_teacher(tta="none")["tta"] is False
    assert describe_teacher(tta="multiscale")["tta"] == "multiscale"
    assert describe_teacher(tta=True, views={"count": 2})["views"] == {"count": 2}
    assert "views" not in describe_teacher(views=None)


def test_teacher_probabilities_round_trip_and_are_found_by_face(tmp_path):
    rng = np.random.default_rng(1)
    probabilities = rng.dirichlet(np.ones(7), 5)
    ids = np.array(["a", "b", "c", "d", "e"])
    teacher = describe_teacher(preset="default", tta="flip")
    path = TeacherProbabilities(probabilities, ids, teacher).save(tmp_path / "run" / TEACHER_FILE)
    assert path.name == "teacher.npz"
    # the layout emonet-distill has always written: a script reads it with numpy alone
    with np.load(path) as saved:
        assert str(saved["teacher"]) == json.dumps(teacher, sort_keys=True)
        assert saved["ids"].tolist() == ids.tolist()
    loaded = TeacherProbabilities.load(path)
    np.testing.assert_allclose(loaded.probabilities, probabilities, rtol=1e-6)
    assert loaded.matches(teacher, ids)
    assert not loaded.matches(teacher, ids[::-1])  # other faces, or in another order
    assert not loaded.matches(describe_teacher(preset="fast", tta="flip"), ids)
    np.testing.assert_array_equal(loaded.select(["e", "a"]), loaded.probabilities[[4, 0]])
    with pytest.raises(ValueError, match="no teacher probabilities for 2 of the 3 faces"):
        loaded.select(["a", "x", "y"])
    copies = TeacherProbabilities(np.tile(probabilities, (2, 1)), np.tile(ids, 2), teacher)
    with pytest.raises(ValueError, match="several rows of a face"):
        copies.select(["a"])
    # a script's teacher is any text
    assert TeacherProbabilities(probabilities, ids, "m1,m2").teacher == "m1,m2"


def test_teacher_files_that_do_not_fit_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"shape \(N, 7\), got \(3, 6\)"):
        TeacherProbabilities(np.ones((3, 6)) / 6, ["a", "b", "c"], "t")
    with pytest.raises(ValueError, match="one id per row: 3 rows"):
        TeacherProbabilities(np.ones((3, 7)) / 7, ["a", "b"], "t")
    np.savez(tmp_path / "other.npz", probabilities=np.ones((2, 7)) / 7)
    with pytest.raises(ValueError, match="other.npz: not a teacher file; it lacks ids, teacher"):
        TeacherProbabilities.load(tmp_path / "other.npz")


@pytest.mark.parametrize(
    ("tta", "flip_online"), [("flip", True), ("multiscale", True), ("none", False)]
)
def test_consistent_teaching_keeps_the_mirrors_out_of_the_copies_of_a_mirroring_teacher(
    tta, flip_online
):
    faces = _faces()
    config = TrainingConfig.cpu(seed=3, augment=AugmentConfig(translate=0.1, erase=0.25))
    copies, described, student = teaching_views(
        faces, config, 2, teacher_tta=tta, with_features=False
    )
    assert len(copies) == 12 and copies.features.shape == (12, 0)
    assert copies.ids.tolist() == faces.ids.tolist() * 2
    assert described["count"] == 2 and described["seed"] == 3
    assert described["augment"]["flip"] is not flip_online
    assert described["augment"]["rotation"] == config.augment.rotation  # the recipe's warps
    # the student adds no warp: it mirrors the copies when the teacher answers both alike
    assert student.augment.rotation == student.augment.zoom == student.augment.erase == 0
    assert student.augment.mode == ("full" if flip_online else "none")
    assert student.seed == config.seed and student.epochs == config.epochs
    with_features, _, _ = teaching_views(faces, config, 2, teacher_tta=tta, with_features=True)
    assert with_features.features.shape == (12, 2728)
    np.testing.assert_array_equal(with_features.images, copies.images)
