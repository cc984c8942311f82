"""``emonet-evaluate MODEL FEATURES.h5 -o preds.npz``: predict a split and score it.

The arguments are checked before TensorFlow is imported (seconds), and its start-up log
is kept out of the output (:mod:`emonet._tensorflow`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emonet._constants import KERAS_SUFFIX, LITE_SUFFIX, USAGES
from emonet._tensorflow import import_tensorflow
from emonet.cli._common import CommandParser, add_tta_options, run


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="emonet-evaluate",
        description=(
            "Predict the faces of one usage of a features file with a trained model, write "
            "a prediction file (.npz: probabilities, labels, ids, model name) for "
            "emonet-fit-ensemble, and, where labels are known, print the accuracy, the "
            "per-class precision / recall / F1 and draw the confusion matrix."
        ),
    )
    parser.add_argument(
        "model", help="model.keras written by emonet-train, or a .tflite of emonet-quantize"
    )
    parser.add_argument("features", help="the .h5 features file")
    parser.add_argument(
        "--usage",
        default="PublicTest",
        choices=[*USAGES, "all"],
        help="faces to predict (default: PublicTest)",
    )
    parser.add_argument("-o", "--output", required=True, help="the .npz prediction file to write")
    parser.add_argument(
        "--confusion-matrix",
        metavar="PNG",
        help="where to draw the confusion matrix (default: OUTPUT with .png)",
    )
    parser.add_argument("--name", help="model name stored in the file (default: the model's)")
    parser.add_argument("--batch-size", type=int, default=256)
    add_tta_options(parser, who="read each face")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT")
    return parser


def _check_arguments(args: argparse.Namespace) -> None:
    """Refuse bad arguments before TensorFlow takes its seconds to import."""
    model = Path(args.model)
    if not model.is_file():
        raise FileNotFoundError(f"{model}: no such model file")
    if model.suffix not in (KERAS_SUFFIX, LITE_SUFFIX):
        raise ValueError(
            f"{model}: expected a .keras model file written by emonet-train or a .tflite "
            "file written by emonet-quantize"
        )
    if not Path(args.features).is_file():
        raise FileNotFoundError(f"{args.features}: no such features file")
    output = Path(args.output)
    if output.exists() and not args.overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")


def _main(args: argparse.Namespace) -> int:
    _check_arguments(args)
    import_tensorflow()
    from emonet.features import load_features
    from emonet.models import (
        load_lite_model,
        load_model,
        plot_confusion_matrix,
        predict_proba,
    )
    from emonet.predictions import evaluate_predictions, save_predictions

    output = Path(args.output)
    model = (load_lite_model if args.model.endswith(LITE_SUFFIX) else load_model)(args.model)
    data = load_features(args.features, usage=None if args.usage == "all" else args.usage)
    if len(data) == 0:
        raise ValueError(f"{args.features}: no faces of usage {args.usage!r}")
    probabilities = predict_proba(model, data, batch_size=args.batch_size, tta=args.tta)
    name = args.name or model.name
    save_predictions(output, probabilities, data.labels, data.ids, model_name=name)
    how = "" if args.tta == "none" else f" with {args.tta} test-time augmentation"
    print(f"wrote {output}: {len(data):,} {args.usage} faces predicted by {name}{how}")
    if not (data.labels >= 0).any():
        print("no labels known: nothing to score")
        return 0
    evaluation = evaluate_predictions(probabilities, data.labels)
    print(f"accuracy: {evaluation.accuracy:.2%} ({evaluation.n_faces:,} labelled faces)")
    print(evaluation.text.rstrip())
    picture = Path(args.confusion_matrix) if args.confusion_matrix else output.with_suffix(".png")
    plot_confusion_matrix(evaluation.confusion, picture, title=f"{name}, {args.usage}")
    print(f"confusion matrix: {picture}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``emonet-evaluate``."""
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
