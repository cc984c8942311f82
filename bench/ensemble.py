"""Time fitting the ensemble weights of four models on the 3,589 FER2013 validation faces.

Run with ``python bench/ensemble.py``. The probabilities are synthetic (four models of 55-67 %
accuracy with partly shared errors, and the class counts of FER2013's PublicTest split): the
cost depends on their shape, not on where they come from. Prints the best and median wall
time of each step, then the wall time and peak memory of the whole ``emonet-fit-ensemble``
command on those validation files and as many test files.

    python bench/ensemble.py [--repeats 3] [--skip-cli]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import sklearn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import run_measured  # noqa: E402

from emonet import LABELS, NUM_CLASSES  # noqa: E402
from emonet.ensemble import (  # noqa: E402
    StackingEnsemble,
    WeightedEnsemble,
    cross_validate_ensemble,
    summarize_validation,
)
from emonet.predictions import save_predictions  # noqa: E402

#: Faces per label in FER2013's PublicTest (validation) split, in the order of LABELS.
PUBLIC_TEST_COUNTS = dict(zip(LABELS, (467, 56, 496, 895, 653, 415, 607), strict=True))


def make_probabilities(n_models: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Softmax of a true-class bonus plus noise shared by all models plus each model's own."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.repeat(np.arange(NUM_CLASSES), list(PUBLIC_TEST_COUNTS.values())))
    shared = rng.normal(size=(y.size, NUM_CLASSES))  # faces every model finds hard
    probabilities = []
    for model in range(n_models):
        logits = 2.6 * np.eye(NUM_CLASSES)[y] + shared
        logits += rng.normal(scale=1.0 + 0.2 * model, size=logits.shape)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities.append(exp / exp.sum(axis=1, keepdims=True))
    return probabilities, y


def timed(step: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - start)
    return times, result


def report(name: str, times: list[float], note: str = "") -> None:
    print(
        f"{name:<46} best {min(times):6.2f} s   median {statistics.median(times):6.2f} s"
        f"   ({len(times)} runs{note})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--skip-cli", action="store_true", help="do not time the command")
    args = parser.parse_args()

    probabilities, y = make_probabilities(args.models)
    accuracies = [float(np.mean(p.argmax(axis=1) == y)) for p in probabilities]
    print(
        f"{args.models} models x {y.size} rows x {NUM_CLASSES} classes (synthetic; single-model "
        f"accuracy {min(accuracies):.3f}-{max(accuracies):.3f})"
    )
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}, {os.cpu_count()} CPUs"
    )

    for objective in ("accuracy", "log_loss"):
        ensemble = WeightedEnsemble(objective, random_state=0)
        times, fitted = timed(lambda e=ensemble: e.fit(probabilities, y), args.repeats)
        report(
            f"WeightedEnsemble({objective!r}).fit",
            times,
            f", {fitted.n_iter_} generations, accuracy {fitted.score(probabilities, y):.4f}",
        )

    times, scores = timed(
        lambda: cross_validate_ensemble(
            WeightedEnsemble(random_state=0), probabilities, y, n_splits=args.folds, random_state=0
        ),
        args.repeats,
    )
    report(f"cross_validate_ensemble, {args.folds} folds", times, f", mean {scores.mean():.4f}")

    times, _ = timed(lambda: StackingEnsemble().fit(probabilities, y), args.repeats)
    report("StackingEnsemble.fit", times)

    fitted = WeightedEnsemble(random_state=0).fit(probabilities, y)
    times, _ = timed(
        lambda: summarize_validation(
            fitted, probabilities, y, n_splits=args.folds, random_state=0
        ),
        args.repeats,
    )
    report("summarize_validation (all CLI validation work)", times)

    if not args.skip_cli:
        bench_cli(probabilities, y, args.folds)


def bench_cli(probabilities: list[np.ndarray], y: np.ndarray, folds: int) -> None:
    """Wall time and peak memory of emonet-fit-ensemble, from reading files to the report."""
    test_probabilities, test_y = make_probabilities(len(probabilities), seed=1)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        paths: dict[str, list[str]] = {"val": [], "test": []}
        for split, arrays, labels in (
            ("val", probabilities, y),
            ("test", test_probabilities, test_y),
        ):
            for index, proba in enumerate(arrays):
                path = root / split / f"model_{index}.npz"
                paths[split].append(str(save_predictions(path, proba, labels)))
        command = [sys.executable, "-m", "emonet.cli.fit_ensemble", *paths["val"]]
        command += ["-o", str(root / "ensemble.json"), "--test", *paths["test"]]
        command += ["--cv-folds", str(folds), "-q"]
        seconds, peak, done = run_measured(command)
    if done.returncode != 0:
        raise SystemExit(f"emonet-fit-ensemble failed: {done.stderr.strip()}")
    print(
        f"{'emonet-fit-ensemble, val + test + report':<46} {seconds:6.2f} s wall, "
        f"peak memory {peak / 2**20:.0f} MiB (1 run, including interpreter start)"
    )


if __name__ == "__main__":
    main()
