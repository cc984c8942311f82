"""``emonet-distill FEATURES.h5 --variant NAME --out DIR``: a student learns an ensemble.

The teacher (a bundled preset, or a user's models and ensemble) gives its probabilities
of the Training faces once; they are kept in ``OUT/teacher.npz``, so a resumed run does
not compute them again. The student then trains as ``emonet-train`` trains, on the
teacher's softened probabilities mixed with the labels (:func:`emonet.training.distill`),
with every option of ``emonet-train``; label smoothing is off unless asked.

With ``--teacher-views K`` the teacher labels K augmented copies of every face, drawn
with the recipe's augmentation, and the student trains on those copies, mirrored at
random when the teacher averages each face with its mirror: it learns the teacher's
answer on the face it is shown (:func:`emonet.training.teaching_views`). An epoch is then
one pass over the K copies. The teacher file is a
:class:`emonet.training.TeacherProbabilities`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from emonet._io import atomic_write_text
from emonet._tensorflow import import_tensorflow
from emonet.cli._common import CommandParser, add_tta_options, run
from emonet.cli.train import add_training_arguments, check_training_arguments, train_from_arguments

DISTILL_FILE = "distill.json"


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="emonet-distill",
        description=(
            "Train one student network on the probabilities of a teacher ensemble (a "
            "bundled preset or your own models) for the Training faces, softened by a "
            "temperature and mixed with the labels. Takes every option of emonet-train; "
            "writes what it writes, plus teacher.npz and distill.json."
        ),
    )
    add_training_arguments(parser)
    teacher = parser.add_argument_group("teacher")
    teacher.add_argument(
        "--teacher",
        default="default",
        help="preset name (emonet.list_presets) or preset folder (default: default)",
    )
    teacher.add_argument(
        "--teacher-models",
        nargs="+",
        metavar="MODEL",
        help="your own teacher instead: emonet-train run folders or .keras files",
    )
    teacher.add_argument("--teacher-ensemble", help="emonet-fit-ensemble JSON of --teacher-models")
    add_tta_options(
        teacher,
        dest="teacher_tta",
        prefix="teacher",
        default=None,
        who="the teacher reads each face",
    )
    teacher.add_argument(
        "--teacher-views",
        type=int,
        default=0,
        metavar="K",
        help="the teacher labels K augmented copies of each face, which the student "
        "learns from (default: 0, the faces as they are)",
    )
    teacher.add_argument(
        "--temperature",
        type=float,
        default=2.0,
        help="softens the teacher's probabilities, p**(1/T) (default: 2)",
    )
    teacher.add_argument(
        "--alpha",
        type=float,
        default=0.5,
        help="weight of the one-hot labels in the targets, in [0, 1] (default: 0.5)",
    )
    return parser


def _check(args: argparse.Namespace) -> None:
    check_training_arguments(args)
    if args.temperature <= 0:
        raise ValueError(f"--temperature must be > 0, got {args.temperature}")
    if not 0 <= args.alpha <= 1:
        raise ValueError(f"--alpha must lie in [0, 1], got {args.alpha}")
    if args.teacher_views < 0:
        raise ValueError(f"--teacher-views must be >= 0 (0 for none), got {args.teacher_views}")
    if args.teacher_views and args.augment == "none":
        raise ValueError("--teacher-views needs an augmentation; drop --augment none")
    if args.teacher_ensemble and not args.teacher_models:
        raise ValueError("--teacher-ensemble needs --teacher-models")
    given = [*(args.teacher_models or []), *filter(None, [args.teacher_ensemble])]
    for path in given:
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: no such teacher model or ensemble file")


def _describe_teacher(args: argparse.Namespace, views: dict[str, Any] | None) -> dict[str, Any]:
    from emonet.training import describe_teacher

    return describe_teacher(
        preset=None if args.teacher_models else args.teacher,
        models=args.teacher_models or [],
        ensemble=args.teacher_ensemble,
        tta=args.teacher_tta,
        views=views,
    )


def _recognizer(args: argparse.Namespace) -> Any:
    from emonet import Recognizer

    if args.teacher_models:
        return Recognizer(
            models=args.teacher_models, ensemble=args.teacher_ensemble, tta=args.teacher_tta
        )
    return Recognizer(args.teacher, tta=args.teacher_tta)


def _teacher_probabilities(
    args: argparse.Namespace, data: Any, views: dict[str, Any] | None, recognizer: Any = None
) -> tuple[np.ndarray, float]:
    """The teacher's probabilities of ``data``'s faces and its accuracy on them: from
    OUT/teacher.npz when it holds this teacher's for these faces, else computed and kept."""
    from emonet.training import TEACHER_FILE, TeacherProbabilities

    teacher = _describe_teacher(args, views)
    cache = Path(args.out) / TEACHER_FILE
    probabilities = None
    if cache.is_file():
        saved = TeacherProbabilities.load(cache)
        if saved.matches(teacher, data.ids):
            print(f"teacher probabilities from {cache}")
            probabilities = saved.probabilities
    if probabilities is None:
        recognizer = recognizer or _recognizer(args)
        print(
            f"teacher: {len(recognizer.models_)} models"
            + ("" if recognizer.tta_ == "none" else f" with {recognizer.tta_} averaging")
            + f", on {len(data):,} faces"
            + (f" ({views['count']} augmented copies of each)" if views else "")
        )
        kept = TeacherProbabilities(recognizer.predict_feature_set(data), data.ids, teacher)
        kept.save(cache)
        probabilities = kept.probabilities  # as a resumed run reads them back
    accuracy = float(np.mean(probabilities.argmax(axis=1) == data.labels))
    print(f"teacher accuracy on the faces it teaches: {accuracy:.2%}")
    return probabilities, accuracy


def _main(args: argparse.Namespace) -> int:
    _check(args)
    import_tensorflow()
    from emonet.training import TEACHER_FILE, distill, teaching_views

    if args.label_smoothing is None:
        args.label_smoothing = 0.0  # the targets are soft already
    out = Path(args.out)
    # a run stopped before its first epoch left only the teacher's file: start it afresh
    if args.resume and not (out / "checkpoints").is_dir():
        args.resume = False

    def fit(train_data, validation_data, model_config, config, **options):
        recognizer = views = None
        if args.teacher_views:
            recognizer = _recognizer(args)
            # the copies' landmarks and HOG only for a network that reads them
            with_features = model_config.use_features or any(
                model.emonet_info.uses_features for model in recognizer.models_
            )
            train_data, views, config = teaching_views(
                train_data,
                config,
                args.teacher_views,
                teacher_tta=recognizer.tta_,
                with_features=with_features,
            )
        teacher, accuracy = _teacher_probabilities(args, train_data, views, recognizer)
        settings = {"temperature": args.temperature, "alpha": args.alpha}
        record = {
            **settings,
            "teacher": _describe_teacher(args, views),
            "teacher_train_accuracy": accuracy,
            "teacher_file": TEACHER_FILE,
        }
        atomic_write_text(out / DISTILL_FILE, json.dumps(record, indent=2) + "\n")
        return distill(
            train_data, teacher, validation_data, model_config, config, **settings, **options
        )

    return train_from_arguments(args, fit)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``emonet-distill``."""
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
