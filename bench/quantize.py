"""What int8 costs and gives: each network's speed and PublicTest accuracy, float against
its quantized copies, measured in one run.

For each run folder (or ``.keras`` file), the network is quantized
(:func:`emonet.models.quantize_model`: ``int8``, weights and activations, calibrated on
512 Training faces; ``weights``, the weights only), then the float network and each copy
read ``--faces`` PublicTest faces in batches of 256 (the best of three rounds, crops/s),
and score the whole of PublicTest with each test-time augmentation; with several
networks, the 5-fold cross-validated accuracy of their differential-evolution weights is
printed for each kind too:

    python bench/quantize.py runs/fer2013.h5 runs/gpu_wide_s52 runs/gpu_adamw_s55 \
        runs/long_compact_s4 runs/student_wide_s10 --tta none flip multiscale
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from emonet import import_tensorflow

import_tensorflow()  # quietly, before the imports below load it

from emonet.ensemble import WeightedEnsemble, cross_validate_ensemble  # noqa: E402
from emonet.features import load_features  # noqa: E402
from emonet.models import (  # noqa: E402
    TTA_MODES,
    load_model,
    predict_crops,
    predict_proba,
    quantize_model,
)

KINDS = ("float", "int8", "weights")


def crops_per_second(model, faces: np.ndarray, rounds: int = 3) -> float:
    predict_crops(model, faces[:256])  # the first call traces or allocates
    best = np.inf
    for _ in range(rounds):
        start = time.perf_counter()
        predict_crops(model, faces)
        best = min(best, time.perf_counter() - start)
    return len(faces) / best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("features", help="features file holding Training and PublicTest faces")
    parser.add_argument("models", nargs="+", help="run folders or .keras files")
    parser.add_argument("--faces", type=int, default=2048, help="faces timed (default: 2048)")
    parser.add_argument("--tta", nargs="+", choices=TTA_MODES, default=["none", "flip"])
    parser.add_argument("--seed", type=int, default=0, help="seed of the weight search")
    args = parser.parse_args()

    data = load_features(args.features, usage=["Training", "PublicTest"])
    train, val = data.select("Training"), data.select("PublicTest")
    timed = val.images[: args.faces]
    print(f"{len(timed):,} faces timed, {len(val):,} scored; crops/s without augmentation")
    probabilities = {(kind, tta): [] for kind in KINDS for tta in args.tta}
    for item in map(Path, args.models):
        path = item / "model.keras" if item.is_dir() else item
        name = item.name if item.is_dir() else item.stem
        model = load_model(path)
        networks = {"float": model}
        for kind in KINDS[1:]:
            start = time.perf_counter()
            networks[kind] = quantize_model(model, train.images, quantization=kind)
            seconds = time.perf_counter() - start
            print(
                f"{name}: {kind} in {seconds:.1f} s, {len(networks[kind].content) / 1e6:.2f} MB "
                f"({path.stat().st_size / 1e6:.2f} MB in float)"
            )
        speeds = {kind: crops_per_second(network, timed) for kind, network in networks.items()}
        print(
            "  crops/s: "
            + ", ".join(
                f"{kind} {speed:,.0f} ({speed / speeds['float']:.2f}x)"
                for kind, speed in speeds.items()
            )
        )
        for tta in args.tta:
            line = []
            for kind, network in networks.items():
                proba = predict_proba(network, val, tta=tta)
                probabilities[kind, tta].append(proba)
                line.append(f"{kind} {np.mean(proba.argmax(1) == val.labels):.2%}")
            same = np.mean(
                probabilities["int8", tta][-1].argmax(1)
                == probabilities["float", tta][-1].argmax(1)
            )
            print(f"  PublicTest, tta {tta}: {', '.join(line)}; int8 agrees on {same:.1%}")
    if len(args.models) > 1:
        for tta in args.tta:
            scores = []
            for kind in KINDS:
                folds = cross_validate_ensemble(
                    WeightedEnsemble(random_state=args.seed),
                    probabilities[kind, tta],
                    val.labels,
                    random_state=args.seed,
                )
                scores.append(f"{kind} {folds.mean():.2%} +- {folds.std():.2%}")
            print(f"ensemble, tta {tta}, 5-fold cross-validated: {', '.join(scores)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
