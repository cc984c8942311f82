"""``emonet-quantize MODEL FEATURES.h5``: a trained network's int8 copy, for fast inference.

Calibrates on Training faces of the features file, writes the ``.tflite`` file, and,
where the file has labelled PublicTest faces, scores both networks on them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from emonet._choices import QUANTIZATIONS
from emonet._constants import KERAS_SUFFIX, LITE_SUFFIX
from emonet._tensorflow import import_tensorflow
from emonet.cli._common import CommandParser, add_tta_options, run


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="emonet-quantize",
        description=(
            "Quantize a trained network after training (weights and activations in int8, "
            "their ranges calibrated on Training faces) into a .tflite file that "
            "emonet-predict, emonet-evaluate, Recognizer and presets run with LiteRT: "
            "about twice as fast on a CPU and a quarter the size. Where the features file "
            "has labelled PublicTest faces, both networks are scored on them."
        ),
    )
    parser.add_argument("model", help="model.keras written by emonet-train, or its run folder")
    parser.add_argument("features", help="the .h5 features file (its Training faces calibrate)")
    parser.add_argument(
        "-o", "--output", help="the .tflite file to write (default: MODEL with .tflite)"
    )
    parser.add_argument(
        "--quantization",
        choices=QUANTIZATIONS,
        default="int8",
        help="int8: weights and activations (default); weights: the weights only, "
        "activations in float (slower, no calibration)",
    )
    parser.add_argument(
        "--calibration-faces",
        type=int,
        default=512,
        metavar="N",
        help="Training faces drawn at random to calibrate (default: 512)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of that draw (default: 0)")
    add_tta_options(parser, who="score each face")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT")
    return parser


def _paths(args: argparse.Namespace) -> tuple[Path, Path]:
    """The model file and the output, checked before TensorFlow takes seconds to import."""
    model = Path(args.model)
    if model.is_dir():
        model = model / "model.keras"
    if not model.is_file():
        raise FileNotFoundError(f"{model}: no such model file")
    if model.suffix != KERAS_SUFFIX:
        raise ValueError(f"{model}: expected a .keras model file written by emonet-train")
    if not Path(args.features).is_file():
        raise FileNotFoundError(f"{args.features}: no such features file")
    output = Path(args.output) if args.output else model.with_suffix(LITE_SUFFIX)
    if output.suffix != LITE_SUFFIX:
        raise ValueError(f"--output: expected a file name ending in .tflite, got {output}")
    if output.exists() and not args.overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    if args.calibration_faces < 1:
        raise ValueError(f"--calibration-faces must be >= 1, got {args.calibration_faces}")
    return model, output


def _main(args: argparse.Namespace) -> int:
    model_path, output = _paths(args)
    import_tensorflow()
    from emonet.features import load_features
    from emonet.models import load_model, predict_proba, quantize_model
    from emonet.predictions import evaluate_predictions

    model = load_model(model_path)
    data = load_features(args.features, usage=["Training", "PublicTest"])
    train = data.select("Training")
    if len(train) == 0:
        raise ValueError(f"{args.features}: no Training faces to calibrate on")
    lite = quantize_model(
        model,
        train.images,
        train.features if model.emonet_info.uses_features else None,
        quantization=args.quantization,
        max_faces=args.calibration_faces,
        random_state=args.seed,
    )
    lite.save(output)
    size = model_path.stat().st_size / 1e6
    print(
        f"wrote {output}: {args.quantization}, {len(lite.content) / 1e6:.2f} MB "
        f"({size:.2f} MB for {model_path.name}), calibrated on "
        f"{min(args.calibration_faces, len(train)):,} Training faces"
    )
    subset = data.select("PublicTest")
    if not (subset.labels >= 0).any():
        print("no labelled PublicTest faces: nothing to score")
        return 0
    how = "" if args.tta == "none" else f", {args.tta} test-time augmentation"
    labels = {}
    for name, network in ((model_path.name, model), (output.name, lite)):
        probabilities = predict_proba(network, subset, tta=args.tta)
        labels[name] = probabilities.argmax(axis=1)
        accuracy = evaluate_predictions(probabilities, subset.labels).accuracy
        print(f"PublicTest accuracy{how}: {accuracy:.2%} {name}")
    same = float(np.mean(labels[model_path.name] == labels[output.name]))
    print(f"the same label for {same:.1%} of the {len(subset):,} faces")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``emonet-quantize``."""
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
