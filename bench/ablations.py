"""Recipe ablations at one fixed budget: the ``cpu`` recipe, and one change at a time.

Each recipe trains ``compact`` with ``emonet-train`` for the same number of epochs (the
cosine schedule spans them), the same seed, one after the other (never two at once on 2
cores), into ``OUT/<name>``; a finished run is kept and an interrupted one resumed, so the
script can be run again after an interruption. Then it prints one table (PublicTest
accuracy of the best epoch, plain and with flip averaging; minutes; seconds per epoch),
writes it as ``OUT/ablations.md`` and ``OUT/ablations.json``, and draws PublicTest
accuracy against training minutes for every recipe, ``OUT/ablations.png``:

    python bench/ablations.py runs/fer2013.h5 --out runs/ablations --epochs 10

The changes are those of the published from-scratch FER2013 recipes and beyond: mixup,
random erasing, an average of the weights, AdamW instead of SGD, no label smoothing, a
wider network, shifts of 10%. PublicTest picks each run's best epoch, as in training.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from training import plot_curves  # bench/training.py, beside this script

#: name -> (what changes, emonet-train arguments); "cpu" is the recipe as it is.
ABLATIONS: dict[str, tuple[str, list[str]]] = {
    "cpu": ("the cpu recipe (SGD-Nesterov, label smoothing 0.1, batch 128)", []),
    "mixup": ("+ mixup, alpha 0.2", ["--mixup", "0.2"]),
    "erase": ("+ random erasing, p 0.25", ["--erase", "0.25"]),
    "ema": ("+ moving average of the weights, momentum 0.999", ["--ema", "0.999"]),
    "adamw": (
        "AdamW (lr 2e-3, weight decay 0.05) instead of SGD",
        ["--optimizer", "adamw", "--learning-rate", "2e-3", "--weight-decay", "0.05"],
    ),
    "no_smoothing": ("no label smoothing", ["--label-smoothing", "0"]),
    "wide": (
        "wider network: widths 48-96-192-384 (2.25x the work)",
        ["--backbone-option", "widths=[48,96,192,384]"],
    ),
}


def train(features: str, out: Path, name: str, extra: list[str], epochs: int, seed: int) -> None:
    run = out / name
    if (run / "model.keras").is_file():
        print(f"{name}: done", flush=True)
        return
    resume = ["--resume"] if (run / "checkpoints").is_dir() else []
    command = [
        "emonet-train", features, "--variant", "compact", "--out", str(run),
        "--epochs", str(epochs), "--seed", str(seed), "-q", *resume, *extra,
    ]  # fmt: skip
    print(f"{name}: {' '.join(command)}", flush=True)
    subprocess.run(command, check=True)


def flip_accuracy(features: str, run: Path) -> float:
    from emonet.features import load_features
    from emonet.models import load_model, predict_proba

    val = load_features(features, usage="PublicTest")
    proba = predict_proba(load_model(run / "model.keras"), val, tta=True)
    return float(np.mean(proba.argmax(1) == val.labels))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("features", help="features file of emonet-extract-features")
    parser.add_argument("--out", type=Path, default=Path("runs/ablations"))
    parser.add_argument("--epochs", type=int, default=10, help="the budget of every recipe")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help="comma-separated names (default: all)")
    parser.add_argument(
        "--report-only", action="store_true", help="report the finished runs, train nothing"
    )
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(ABLATIONS)
    unknown = sorted(set(names) - set(ABLATIONS))
    if unknown:
        parser.error(f"unknown ablation {unknown[0]!r}; choose from {', '.join(ABLATIONS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        for name in names:
            train(args.features, args.out, name, ABLATIONS[name][1], args.epochs, args.seed)

    rows, runs = [], []
    for name in names:
        run = args.out / name
        if not (run / "model.keras").is_file():
            continue
        runs.append(run)
        results = json.loads((run / "config.json").read_text())["results"]
        rows.append(
            {
                "name": name,
                "change": ABLATIONS[name][0],
                "epochs": results["epochs"],
                "minutes": round(results["seconds"] / 60, 1),
                "seconds_per_epoch": results["seconds_per_epoch"],
                "best_epoch": results["best_epoch"],
                "accuracy": float(results["best_value"]),
                "flip_accuracy": flip_accuracy(args.features, run),
            }
        )
    if not rows:
        print("no finished run to report")
        return 1
    base = next((r for r in rows if r["name"] == "cpu"), rows[0])
    lines = [
        "| recipe | change | epochs | minutes | s/epoch | PublicTest | with flips | vs cpu |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        delta = (r["flip_accuracy"] - base["flip_accuracy"]) * 100
        lines.append(
            f"| {r['name']} | {r['change']} | {r['epochs']} | {r['minutes']} | "
            f"{r['seconds_per_epoch']} | {r['accuracy']:.2%} | {r['flip_accuracy']:.2%} | "
            f"{delta:+.2f} |"
        )
    table = "\n".join(lines)
    print(table)
    (args.out / "ablations.md").write_text(table + "\n")
    (args.out / "ablations.json").write_text(json.dumps(rows, indent=2) + "\n")
    plot_curves(runs, args.out / "ablations.png")
    print(f"wrote {args.out}/ablations.md, ablations.json, ablations.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
