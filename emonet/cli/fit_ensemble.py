"""``emonet-fit-ensemble``: learn ensemble weights on validation predictions, report on test.

Usage::

    emonet-fit-ensemble VAL_PREDS.npz ... -o ensemble.json [--test TEST_PREDS.npz ...]

Reads one prediction file per model (see :mod:`emonet.predictions`), learns one weight per
model with :class:`emonet.ensemble.WeightedEnsemble`, and writes the weights, model names,
objective, seed and validation figures to the JSON file. With ``--test`` files (same models,
same order) it also writes a report folder: ``report.md``, ``confusion_matrix.png``,
``outliers.csv`` and ``report.json``. An existing JSON or report is replaced only with
``--overwrite``. See ``docs/ensemble.md``.

Exit status: 0 on success, 2 on bad input, 1 when the system fails (disk full, read-only
file system), 130 when interrupted; each failure is one line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emonet.cli._common import CommandParser, run, warnings_once
from emonet.ensemble import (
    OBJECTIVES,
    REPORT_FILES,
    StackingEnsemble,
    TemperatureScaler,
    WeightedEnsemble,
    align_predictions,
    save_report,
    summarize_validation,
)
from emonet.predictions import UNKNOWN_LABEL

PROG = "emonet-fit-ensemble"


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of ``emonet-fit-ensemble``.

    Returns
    -------
    argparse.ArgumentParser
        The parser; ``parse_args`` exits with status 2 and one line on bad arguments.
    """
    defaults = WeightedEnsemble()
    # the library's defaults, so the command and the functions cannot drift apart
    cv_folds = inspect.signature(summarize_validation).parameters["n_splits"].default
    parser = CommandParser(
        prog=PROG,
        description=(
            "Learn one weight per model for a weighted average of their probabilities "
            "(differential evolution on the validation split), and report how the ensemble "
            "does against each model and equal weights."
        ),
        epilog="Example: emonet-fit-ensemble val/*.npz -o ensemble.json --test test/*.npz",
    )
    parser.add_argument(
        "validation",
        nargs="+",
        type=Path,
        metavar="VAL_PREDS.npz",
        help="validation prediction file of each model, with labels",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        metavar="ENSEMBLE.json",
        help="JSON file to write: weights, model names, objective, seed, validation figures",
    )
    parser.add_argument(
        "--test",
        nargs="+",
        type=Path,
        metavar="TEST_PREDS.npz",
        help="test prediction file of each model, same models in the same order; adds a report",
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        metavar="DIR",
        help="folder of the test report (default: beside the JSON, named <stem>_report)",
    )
    parser.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default=defaults.objective,
        help="what the weights optimise on the validation split (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=_int_at_least(0),
        default=0,
        help="seed of differential evolution and of the folds (default: %(default)s)",
    )
    parser.add_argument(
        "--cv-folds",
        type=_int_at_least(2),
        default=cv_folds,
        metavar="K",
        help="folds of the cross-validated accuracy estimate (default: %(default)s)",
    )
    parser.add_argument(
        "--maxiter",
        type=_int_at_least(1),
        default=defaults.maxiter,
        help="differential-evolution generations at most (default: %(default)s)",
    )
    parser.add_argument(
        "--popsize",
        type=_int_at_least(1),
        default=defaults.popsize,
        help="differential-evolution candidates per model (default: %(default)s)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing ENSEMBLE.json and report files",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``emonet-fit-ensemble``.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name. Default: ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success; 2 on bad input files (after one line on stderr), 1 if the system
        fails (disk full, read-only file system), 130 if interrupted.

    Raises
    ------
    SystemExit
        On ``--help`` (status 0) and on bad arguments (status 2, after one line on
        stderr), as argparse does.

    Examples
    --------
    >>> from emonet.cli.fit_ensemble import main
    >>> main(["val/a.npz", "val/b.npz", "-o", "ensemble.json"])  # doctest: +SKIP
    0
    """
    return run(_main, build_parser(), argv)


def _main(args: argparse.Namespace) -> int:
    # scikit-learn repeats a warning once per cross-validation fold: print each once
    with warnings_once(PROG):
        _fit(args)
    return 0


def _fit(args: argparse.Namespace) -> None:
    output: Path = args.output
    if output.is_dir():
        raise ValueError(f"-o {output}: is a folder; give the JSON file to write")
    if args.report_dir is not None and args.test is None:
        raise ValueError("--report-dir needs --test files: the report describes the test split")
    if args.test is not None and len(args.test) != len(args.validation):
        raise ValueError(
            f"got {len(args.validation)} validation files but {len(args.test)} --test files; "
            "give one test file per model, in the same order"
        )
    report_dir = None
    if args.test is not None:
        report_dir = args.report_dir or output.with_name(f"{output.stem}_report")
    # before the work: a fit must not be lost to an output that cannot be written
    _check_writable("-o", output.parent)
    if report_dir is not None:
        _check_writable("--report-dir", report_dir)
    if not args.overwrite:
        _refuse_to_replace(output, report_dir)

    validation = align_predictions(args.validation)
    unlabelled = int((validation.labels == UNKNOWN_LABEL).sum())
    if unlabelled:
        raise ValueError(
            f"{unlabelled} of {validation.labels.size} validation faces have no label (-1) "
            f"in any of {', '.join(map(str, args.validation))}; learning weights needs "
            "labelled validation predictions"
        )
    largest_class = int(np.bincount(validation.labels).max())
    if args.cv_folds > largest_class:
        raise ValueError(
            f"--cv-folds {args.cv_folds} is more than the {largest_class} validation faces of "
            "the most common label; stratified folds need fewer folds than that"
        )
    test = None
    if args.test is not None:
        test = align_predictions(args.test)
        pairs = zip(args.validation, args.test, strict=True)
        names = zip(validation.model_names, test.model_names, strict=True)
        for (val_path, test_path), (val_name, test_name) in zip(pairs, names, strict=True):
            if val_name != test_name:
                raise ValueError(
                    f"--test file {test_path} holds model {test_name!r} but validation file "
                    f"{val_path} holds {val_name!r}; give the test files in the same model "
                    "order as the validation files"
                )

    ensemble = WeightedEnsemble(
        args.objective, maxiter=args.maxiter, popsize=args.popsize, random_state=args.seed
    ).fit(validation.probabilities, validation.labels, model_names=validation.model_names)
    summary = summarize_validation(
        ensemble,
        validation.probabilities,
        validation.labels,
        n_splits=args.cv_folds,
        random_state=args.seed,
    )
    extra: dict[str, Any] = {"validation": {"files": [str(p) for p in args.validation], **summary}}

    written: dict[str, Path] = {}
    if test is not None and report_dir is not None:
        stacking = StackingEnsemble().fit(validation.probabilities, validation.labels)
        calibrator = TemperatureScaler().fit(
            ensemble.predict_proba(validation.probabilities), validation.labels
        )
        written = save_report(
            report_dir,
            ensemble,
            test.probabilities,
            test.labels,
            ids=test.ids,
            stacking=stacking,
            calibrator=calibrator,
            validation=summary,
        )
        extra["test"] = {"files": [str(p) for p in args.test], "report": str(written["report"])}
    ensemble.save(output, extra=extra)

    if not args.quiet:
        _print_summary(ensemble, summary, [output, *written.values()])


def _print_summary(ensemble: WeightedEnsemble, summary: dict[str, Any], paths: list[Path]) -> None:
    accuracy = summary["accuracy"]
    cv = summary["cross_validation"]
    width = max(len("learned weights, cross-validated"), *map(len, ensemble.model_names_))
    print(
        f"validation: {summary['n_samples']} faces, {ensemble.n_models_} models, "
        f"objective {ensemble.objective}, seed {ensemble.random_state}"
    )
    print(f"  {'model':<{width}}  weight  accuracy")
    for name, weight in zip(ensemble.model_names_, ensemble.weights_, strict=True):
        print(f"  {name:<{width}}  {weight:6.3f}  {100 * accuracy['models'][name]:6.2f} %")
    rows = [
        ("equal weights", accuracy["equal_weights"], ""),
        ("learned weights", accuracy["learned_weights"], "  (fit and scored on the same faces)"),
    ]
    for label, value, note in rows:
        print(f"  {label:<{width}}  {'':6}  {100 * value:6.2f} %{note}")
    for label, key, note in [
        ("learned weights, cross-validated", "learned_weights", "  <- quote this"),
        ("stacking, cross-validated", "stacking", ""),
    ]:
        mean, std = cv[key]["mean"], cv[key]["std"]
        print(
            f"  {label:<{width}}  {'':6}  {100 * mean:6.2f} % ± {100 * std:.2f} "
            f"({cv['n_splits']} folds){note}"
        )
    for path in paths:
        print(f"wrote {path}")


def _check_writable(option: str, folder: Path) -> None:
    """Check that ``folder`` is, or can be made, a folder this process may write into."""
    existing = next(p for p in (folder, *folder.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        raise NotADirectoryError(f"{option}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        why = "read-only file system" if _read_only(existing) else "permission denied"
        raise PermissionError(f"{option}: cannot write in {existing} ({why})")


def _read_only(folder: Path) -> bool:
    return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)


def _refuse_to_replace(output: Path, report_dir: Path | None) -> None:
    """Refuse, before any work, to replace a JSON or report that is already there."""
    existing = [output] if output.exists() else []
    if report_dir is not None:
        existing += [report_dir / name for name in REPORT_FILES if (report_dir / name).exists()]
    if existing:
        if len(existing) == 1:
            raise FileExistsError(f"{existing[0]} exists; pass --overwrite to replace it")
        raise FileExistsError(
            f"{existing[0]} and {len(existing) - 1} more output files exist; pass "
            "--overwrite to replace them"
        )


if __name__ == "__main__":
    sys.exit(main())
