"""Teaching a student: the teacher's probabilities kept in a file, and consistent teaching.

A teacher (an ensemble, several times a student's work per face) labels the training
faces once; its probabilities are kept in a ``teacher.npz`` (:data:`TEACHER_FILE`,
:class:`TeacherProbabilities`) beside the student's run, so that a resumed or repeated
run, or another script, reuses them. The file names the teacher that wrote it
(:func:`describe_teacher`), so probabilities of another teacher, or of other faces, are
never taken for this one's.

:func:`teaching_views` is the policy of consistent teaching (Beyer et al. 2022): the
teacher labels augmented copies of every face, drawn with the recipe's augmentation, and
the student learns from those copies with no warp of its own, so that it learns the
teacher's answer on the very face it is shown. A teacher that averages each face with
its mirror answers both alike: then the mirrors stay out of the copies and the student
still mirrors at random.

The teacher itself is the caller's (``emonet-distill`` uses an
:class:`emonet.Recognizer`): nothing here runs above :mod:`emonet.training`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from emonet._choices import tta_mode
from emonet._constants import NUM_CLASSES
from emonet._io import atomic_path
from emonet.features import FeatureSet
from emonet.training._distill import augmented_views
from emonet.training._recipes import TrainingConfig

__all__ = ["TEACHER_FILE", "TeacherProbabilities", "describe_teacher", "teaching_views"]

#: The file in a student's run folder that keeps its teacher's probabilities.
TEACHER_FILE = "teacher.npz"


def describe_teacher(
    *,
    preset: str | None = None,
    models: Sequence[str | os.PathLike[str]] = (),
    ensemble: str | os.PathLike[str] | None = None,
    tta: bool | str | None = False,
    views: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What a teacher is, as ``teacher.npz`` and ``distill.json`` record it.

    Parameters
    ----------
    preset : str, optional
        A bundled preset's name or folder, for a preset teacher.
    models : sequence of path-like, default=()
        The teacher's own models (run folders or model files), for a teacher of one's own.
    ensemble : path-like, optional
        The ensemble file that weighs ``models``.
    tta : bool, {"none", "flip", "multiscale"} or None, default=False
        The teacher's test-time augmentation; ``None`` for a preset's own setting.
        ``"flip"`` and ``"none"`` are written as ``True`` and ``False``, as files of
        earlier versions hold them.
    views : mapping, optional
        How the augmented copies the teacher labels were drawn (:func:`teaching_views`);
        left out when it labels the faces as they are, as in files of earlier versions.

    Returns
    -------
    dict
        JSON-compatible; equal descriptions name the same teacher.

    Examples
    --------
    >>> from emonet.training import describe_teacher
    >>> describe_teacher(preset="default", tta="flip")
    {'preset': 'default', 'models': [], 'ensemble': None, 'tta': True}
    """
    if isinstance(tta, str):
        tta = {"flip": True, "none": False}.get(tta_mode(tta), tta)
    return {
        "preset": preset,
        "models": [str(model) for model in models],
        "ensemble": None if ensemble is None else str(ensemble),
        "tta": tta,
        **({"views": dict(views)} if views else {}),
    }


def _teacher_text(teacher: str | Mapping[str, Any]) -> str:
    if isinstance(teacher, str):
        return teacher
    return json.dumps(teacher, sort_keys=True)


@dataclass(frozen=True, eq=False)
class TeacherProbabilities:
    """A teacher's probabilities of faces, as ``teacher.npz`` keeps them.

    The file holds ``probabilities`` ``(N, 7)`` float32, ``ids`` ``(N,)`` unicode (the
    faces' ids, repeated for augmented copies, view by view) and ``teacher``, a 0-d
    unicode array: the teacher's description (:func:`describe_teacher` as sorted JSON,
    or any text a script chooses).

    Parameters
    ----------
    probabilities : (N, 7) array_like
    ids : (N,) array_like of str
    teacher : str or mapping
        The teacher's description; a mapping is written as sorted JSON.

    Raises
    ------
    ValueError
        If the probabilities are not ``(N, 7)`` with one id per row.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from emonet.training import TEACHER_FILE, TeacherProbabilities, describe_teacher
    >>> teacher = describe_teacher(preset="fast")
    >>> saved = TeacherProbabilities(np.eye(7)[[3, 6]], ["a", "b"], teacher)
    >>> path = saved.save(pathlib.Path(tempfile.mkdtemp()) / TEACHER_FILE)
    >>> loaded = TeacherProbabilities.load(path)
    >>> loaded.matches(teacher, ["a", "b"]), loaded.matches(teacher, ["b", "a"])
    (True, False)
    >>> loaded.select(["b", "a"]).argmax(axis=1).tolist()
    [6, 3]
    """

    probabilities: np.ndarray
    ids: np.ndarray
    teacher: str

    def __post_init__(self) -> None:
        probabilities = np.asarray(self.probabilities, dtype=np.float32)
        ids = np.asarray(self.ids).astype(str)
        if probabilities.ndim != 2 or probabilities.shape[1] != NUM_CLASSES:
            raise ValueError(
                f"teacher probabilities must have shape (N, {NUM_CLASSES}), got "
                f"{probabilities.shape}"
            )
        if ids.shape != (len(probabilities),):
            raise ValueError(
                f"teacher probabilities need one id per row: {len(probabilities)} rows, "
                f"ids of shape {ids.shape}"
            )
        object.__setattr__(self, "probabilities", probabilities)
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "teacher", _teacher_text(self.teacher))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the file (atomically: a kill leaves the previous one whole); returns its
        path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(tmp, probabilities=self.probabilities, ids=self.ids, teacher=self.teacher)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TeacherProbabilities:
        """Read a file that :meth:`save` (or an earlier ``emonet-distill``) wrote.

        Raises
        ------
        FileNotFoundError
            If there is no such file.
        ValueError
            If it lacks an array or they do not fit together, naming the file.
        """
        path = Path(path)
        with np.load(path, allow_pickle=False) as saved:
            missing = [k for k in ("probabilities", "ids", "teacher") if k not in saved.files]
            if missing:
                raise ValueError(f"{path}: not a teacher file; it lacks {', '.join(missing)}")
            try:
                return cls(saved["probabilities"], saved["ids"], str(saved["teacher"]))
            except ValueError as error:
                raise ValueError(f"{path}: {error}") from None

    def matches(self, teacher: str | Mapping[str, Any], ids: Any) -> bool:
        """Whether these are ``teacher``'s probabilities of the faces ``ids``, in their
        order: what a resumed run checks before it reuses them."""
        return self.teacher == _teacher_text(teacher) and np.array_equal(
            self.ids, np.asarray(ids).astype(str)
        )

    def select(self, ids: Any) -> np.ndarray:
        """The probabilities of the faces ``ids``, in their order.

        Raises
        ------
        ValueError
            If the file has no probabilities for some of them, or several rows of a face
            (augmented copies: :meth:`matches` is their check).
        """
        rows = {face: i for i, face in enumerate(self.ids)}
        if len(rows) < len(self.ids):
            raise ValueError(
                "the teacher's file holds several rows of a face (augmented copies); "
                "select needs one row a face"
            )
        wanted = np.asarray(ids).astype(str)
        missing = [face for face in wanted if face not in rows]
        if missing:
            raise ValueError(
                f"no teacher probabilities for {len(missing)} of the {len(wanted)} faces "
                f"(the first: {missing[0]!r})"
            )
        return self.probabilities[[rows[face] for face in wanted]]


def teaching_views(
    data: FeatureSet,
    config: TrainingConfig,
    views: int,
    *,
    teacher_tta: bool | str | None,
    with_features: bool,
) -> tuple[FeatureSet, dict[str, Any], TrainingConfig]:
    """Consistent teaching: the copies a teacher labels, and the student's recipe.

    The copies are :func:`augmented_views` of ``data`` with the recipe's augmentation
    (``config.augment``), drawn with the recipe's seed. A teacher that mirrors
    (``teacher_tta`` not ``"none"``) answers a face and its mirror alike: its copies are
    then not mirrored, and the student mirrors them at random; otherwise the mirrors go
    into the copies. The student adds no warp of its own.

    Parameters
    ----------
    data : FeatureSet
        The training faces.
    config : TrainingConfig
        The student's recipe; its augmentation must change something.
    views : int
        Copies of each face, >= 1.
    teacher_tta : bool, str or None
        The teacher's test-time augmentation (:data:`emonet.models.TTA_MODES`).
    with_features : bool
        Whether the copies need their landmarks and HOG (the teacher or the student reads
        them); without, 16 copies of Training take 1 GB of memory instead of 6.

    Returns
    -------
    copies : FeatureSet
        ``views * len(data)`` faces, view by view.
    described : dict
        How they were drawn (``count``, ``seed``, ``augment``), for
        :func:`describe_teacher`'s ``views``.
    config : TrainingConfig
        The student's recipe: ``config`` with its augmentation cut to flips, or to
        nothing.

    Raises
    ------
    ValueError
        If ``views`` < 1 or the recipe's augmentation is ``"none"``.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.features import FeatureSet
    >>> from emonet.training import TrainingConfig, teaching_views
    >>> faces = FeatureSet(np.zeros((2, 48, 48), np.uint8), np.zeros((2, 2728), np.float32),
    ...                    np.array([3, 6]), np.array(["Training"] * 2), np.array(["a", "b"]))
    >>> copies, described, student = teaching_views(
    ...     faces, TrainingConfig.cpu(), 4, teacher_tta="flip", with_features=False)
    >>> len(copies), described["augment"]["flip"], student.augment.flip, student.augment.zoom
    (8, False, True, 0.0)
    """
    mirrors = tta_mode(teacher_tta) != "none"
    flip_online = config.augment.flip and mirrors
    augment = replace(config.augment, flip=config.augment.flip and not flip_online)
    copies = augmented_views(data, augment, views, seed=config.seed, with_features=with_features)
    # the recipe's flip stays: flip_online implies it
    own = replace(config.augment, rotation=0.0, shear=0.0, zoom=0.0, translate=0.0, erase=0.0)
    if not flip_online:
        own = replace(own, mode="none")
    described = {"count": views, "seed": config.seed, "augment": augment.get_config()}
    return copies, described, replace(config, augment=own)
