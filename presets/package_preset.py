"""Package trained runs as a bundled preset, with the figures of its model card.

For each run folder: the model is saved again with emonet's record (its ModelConfig and
the features file's settings; no optimizer state), with --quantize replaced by its int8
copy (a .tflite file, calibrated on 512 Training faces), its PublicTest probabilities are
predicted (with the test-time augmentation of --tta: mirror averaging unless told
otherwise), then the ensemble weights are learned
on PublicTest by differential evolution, cross-validated, and the preset folder is written:

    python presets/package_preset.py runs/fer2013.h5 runs/compact_s1 runs/compact_features_s2 \
        runs/compact_s3 --out emonet/pretrained/default --name default

It prints each member's accuracy, the ensemble's (equal weights, learned weights, 5-fold
cross-validated), the per-class scores and the files' sizes, and writes them as
``metrics.json`` in the preset folder for docs/model-card.md. PublicTest is the only
split used: it picks the epoch, the members and the weights (PrivateTest is never used).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from emonet import LABELS, import_tensorflow

import_tensorflow()  # quietly, before the imports below load it

from emonet.ensemble import WeightedEnsemble, cross_validate_ensemble  # noqa: E402
from emonet.features import load_features  # noqa: E402
from emonet.models import (  # noqa: E402
    QUANTIZATIONS,
    TTA_MODES,
    ModelConfig,
    load_lite_model,
    load_model,
    plot_confusion_matrix,
    predict_proba,
    quantize_model,
    save_model,
)
from emonet.predictions import evaluate_predictions  # noqa: E402
from emonet.recognize import save_preset  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("features", help="features file holding the PublicTest faces")
    parser.add_argument("runs", nargs="+", help="emonet-train run folders, the members")
    parser.add_argument("--out", required=True, help="preset folder to write")
    parser.add_argument("--name", default=None)
    parser.add_argument("--description", default="")
    parser.add_argument(
        "--tta", choices=TTA_MODES, default="flip", help="the preset's test-time augmentation"
    )
    parser.add_argument("--no-tta", dest="tta", action="store_const", const="none")
    parser.add_argument(
        "--quantize",
        choices=QUANTIZATIONS,
        help="ship each member's quantized .tflite copy instead of its .keras file",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the weight search")
    parser.add_argument("--confusion-png", help="also draw the ensemble's confusion matrix")
    args = parser.parse_args()

    val = load_features(args.features, usage="PublicTest")
    print(f"PublicTest: {len(val):,} faces; test-time augmentation: {args.tta}")
    train = load_features(args.features, usage="Training") if args.quantize else None
    probabilities, members, member_rows = [], [], []
    staging = Path(tempfile.mkdtemp(prefix="emonet-preset-"))
    for run in map(Path, args.runs):
        config = json.loads((run / "config.json").read_text())
        model_config = ModelConfig.from_config(config["model"])
        model = load_model(run / "model.keras")
        member = save_model(
            model,
            staging / f"{run.name}.keras",
            model_config=model_config,
            feature_config=val,
        )
        model = load_model(member)
        parameters = int(model.count_params())
        float_accuracy = None
        if args.quantize:
            float_proba = predict_proba(model, val, tta=args.tta)
            float_accuracy = float(np.mean(float_proba.argmax(1) == val.labels))
            lite = quantize_model(
                model,
                train.images,
                train.features if model_config.use_features else None,
                quantization=args.quantize,
            )
            member.unlink()
            member = lite.save(member.with_suffix(".tflite"))
            model = load_lite_model(member)
        start = time.perf_counter()
        proba = predict_proba(model, val, tta=args.tta)
        seconds = time.perf_counter() - start
        accuracy = float(np.mean(proba.argmax(1) == val.labels))
        results = config.get("results", {})
        row = {
            "name": run.name,
            "variant": model_config.model_name,
            "uses_features": model_config.use_features,
            "seed": config.get("training", {}).get("seed"),
            "epochs": results.get("epochs"),
            "best_epoch": results.get("best_epoch"),
            "train_minutes": round(results.get("seconds", 0) / 60, 1),
            "publictest_accuracy": accuracy,
            "publictest_accuracy_float": float_accuracy,
            "publictest_accuracy_plain": float(results.get("validation_accuracy", np.nan)),
            "quantization": args.quantize,
            "parameters": parameters,
            "file_mb": round(member.stat().st_size / 2**20, 2),
        }
        quantized = f" {args.quantize}, {float_accuracy:.2%} in float;" if args.quantize else ""
        print(
            f"  {run.name}: {accuracy:.2%} ({'no' if args.tta == 'none' else args.tta} "
            f"test-time augmentation;{quantized} "
            f"{row['publictest_accuracy_plain']:.2%} plain at training), "
            f"{row['parameters']:,} parameters, {row['file_mb']} MB, predicted in {seconds:.1f} s"
        )
        probabilities.append(proba)
        members.append(member)
        member_rows.append(row)

    y = val.labels
    equal = float(np.mean(np.mean(probabilities, axis=0).argmax(1) == y))
    ensemble = None
    learned = cross_mean = cross_std = None
    if len(members) > 1:
        ensemble = WeightedEnsemble(random_state=args.seed).fit(
            probabilities, y, model_names=[r["name"] for r in member_rows]
        )
        learned = float(ensemble.score(probabilities, y))
        folds = cross_validate_ensemble(
            WeightedEnsemble(random_state=args.seed), probabilities, y, random_state=args.seed
        )
        cross_mean, cross_std = float(folds.mean()), float(folds.std())
        combined = ensemble.predict_proba(probabilities)
        ensemble_file = ensemble.save(staging / "ensemble.json")
    else:
        combined = probabilities[0]
        ensemble_file = None
    evaluation = evaluate_predictions(combined, y)
    report = evaluation.report
    best = max(r["publictest_accuracy"] for r in member_rows)
    metrics = {
        "split": "PublicTest",
        "faces": len(val),
        "tta": args.tta,
        "members": member_rows,
        "best_member_accuracy": best,
        "equal_weights_accuracy": equal,
        "learned_weights": None if ensemble is None else ensemble.weights_.round(4).tolist(),
        "learned_weights_accuracy": learned,
        "cross_validated_accuracy": cross_mean,
        "cross_validated_std": cross_std,
        "per_class": {
            name: {k: round(float(v), 4) for k, v in report[name].items()} for name in LABELS
        },
        "macro_f1": round(float(report["macro avg"]["f1-score"]), 4),
    }
    print(f"best member {best:.2%}; equal weights {equal:.2%}")
    if ensemble is not None:
        print(
            f"learned weights {', '.join(f'{w:.3f}' for w in ensemble.weights_)}: "
            f"{learned:.2%} on PublicTest (fit there), 5-fold cross-validated "
            f"{cross_mean:.2%} +- {cross_std:.2%}"
        )
    confusion = evaluation.confusion
    metrics["confusion"] = confusion.tolist()
    for i, name in enumerate(LABELS):
        c = metrics["per_class"][name]
        row = confusion[i] / max(confusion[i].sum(), 1)
        mistaken = [LABELS[j] for j in np.argsort(-row) if j != i][:2]
        print(
            f"  {name:9s} precision {c['precision']:.3f} recall {c['recall']:.3f} "
            f"f1 {c['f1-score']:.3f} ({int(c['support'])} faces); mistaken most for "
            f"{mistaken[0]} ({row[LABELS.index(mistaken[0])]:.0%}), "
            f"{mistaken[1]} ({row[LABELS.index(mistaken[1])]:.0%})"
        )
    if args.confusion_png:
        plot_confusion_matrix(confusion, args.confusion_png, title=f"{args.name or 'preset'}")
        print(f"wrote {args.confusion_png}")
    if (Path(args.out) / "preset.json").is_file():
        shutil.rmtree(args.out)  # a previous packaging: replaced whole, no stale member left
    out = save_preset(
        args.out,
        members,
        ensemble_file,
        name=args.name,
        description=args.description,
        tta=args.tta,
        metrics={
            "publictest_accuracy": cross_mean if cross_mean is not None else best,
            "publictest_estimate": "5-fold cross-validated" if cross_mean else "single model",
        },
    )
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    size = sum(p.stat().st_size for p in out.iterdir()) / 2**20
    print(f"wrote {out}: {', '.join(sorted(p.name for p in out.iterdir()))} ({size:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
