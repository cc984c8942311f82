"""``emonet-train FEATURES.h5 --variant NAME --out DIR``: train an EmoNet model.

The arguments are checked before Keras and its backend are imported (seconds), and
TensorFlow's start-up log is kept out of the output (:mod:`emonet._tensorflow`). The
backend is Keras' (``KERAS_BACKEND=jax emonet-train ...``); ``config.json`` records it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emonet._choices import (
    AUGMENT_MODES,
    LR_SCHEDULES,
    MONITORS,
    OPTIMIZERS,
    PIPELINES,
    RECIPE_NAMES,
    STRATEGIES,
    VARIANT_NAMES,
)
from emonet._constants import USAGES
from emonet._tensorflow import import_tensorflow
from emonet.cli._common import CommandParser, run

#: The command's names of the mixed precisions of ``TrainingConfig`` (``PRECISIONS``).
_PRECISIONS = {"bf16": "bfloat16", "fp16": "float16", "fp32": None}


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="emonet-train",
        description=(
            "Train an EmoNet network on a features file of emonet-extract-features: the "
            "Training usage trains, PublicTest validates. Writes into OUT the model "
            "(model.keras), its history (history.csv, history.png), its configuration "
            "(config.json) and its validation predictions (val_predictions.npz)."
        ),
    )
    add_training_arguments(parser)
    return parser


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of a training run, shared with ``emonet-distill``."""
    parser.add_argument("features", help="the .h5 features file")
    parser.add_argument(
        "--variant",
        required=True,
        choices=VARIANT_NAMES,
        help="the network; the paper's four, compact(_features) for a CPU, or features "
        "(the landmarks and HOG alone)",
    )
    parser.add_argument("--out", required=True, help="run folder to write")
    parser.add_argument(
        "--weights",
        default=None,
        help="backbone weights: 'imagenet' (downloaded by Keras) or a "
        ".weights.h5 file of the same keras.applications backbone; "
        "pretrained weights enable the frozen first phase",
    )
    parser.add_argument(
        "--initial-model",
        metavar="MODEL",
        help="start from the weights of this trained model (a .keras file or an "
        "emonet-train run folder) instead of random ones: the same network, or a wider "
        "one of it, whose new units start at zero effect",
    )
    parser.add_argument(
        "--recipe",
        choices=RECIPE_NAMES,
        default=None,
        help="training recipe (default: cpu for compact and features, paper otherwise)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        metavar="MINUTES",
        help="stop cleanly after this many minutes, keeping the best weights",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run in OUT from its last epoch",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a previous run in OUT")
    parser.add_argument("--train-usage", default="Training", choices=USAGES)
    parser.add_argument(
        "--val-usage",
        default="PublicTest",
        choices=[*USAGES, "none"],
        help="validation usage, or 'none' (default: PublicTest)",
    )
    parser.add_argument(
        "--strategy",
        default="auto",
        choices=STRATEGIES,
        help="devices: auto (all GPUs when several), mirrored (all devices of this machine), "
        "multiworker (TensorFlow: cluster from TF_CONFIG; JAX: from KERAS_DISTRIBUTION_*) "
        "or default (one device); tf.distribute on TensorFlow, keras.distribution on JAX",
    )
    parser.add_argument(
        "--pipeline",
        default="auto",
        choices=PIPELINES,
        help="input pipeline: py (keras PyDataset, any backend), tf (tf.data, TensorFlow "
        "only) or auto (tf on TensorFlow, else py)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="batches made at once (default: tf.data autotunes; the PyDataset uses up to 4 "
        "threads)",
    )
    parser.add_argument(
        "--multiprocessing",
        action="store_true",
        help="the PyDataset's workers are processes, not threads",
    )

    recipe = parser.add_argument_group("recipe overrides")
    recipe.add_argument("--epochs", type=int, help="total epochs, both phases")
    recipe.add_argument("--batch-size", type=int)
    recipe.add_argument(
        "--freeze-epochs",
        type=int,
        help="epochs with the backbone frozen (pretrained weights only)",
    )
    recipe.add_argument("--optimizer", choices=OPTIMIZERS)
    recipe.add_argument("--learning-rate", type=float)
    recipe.add_argument("--lr-schedule", choices=LR_SCHEDULES)
    recipe.add_argument("--weight-decay", type=float)
    recipe.add_argument("--label-smoothing", type=float)
    recipe.add_argument(
        "--mixup", type=float, metavar="ALPHA", help="mixup's Beta parameter (0: none; 0.2 usual)"
    )
    recipe.add_argument(
        "--ema",
        type=float,
        metavar="MOMENTUM",
        help="keep a moving average of the weights (e.g. 0.999) and use it (0: none)",
    )
    recipe.add_argument(
        "--early-stopping",
        type=int,
        metavar="PATIENCE",
        help="stop after PATIENCE epochs without improvement (0: never)",
    )
    recipe.add_argument("--monitor", choices=MONITORS)
    recipe.add_argument("--class-weight", choices=["balanced", "none"])
    recipe.add_argument(
        "--augment",
        choices=AUGMENT_MODES,
        help="full: move landmarks and recompute HOG; image: HOG kept; none",
    )
    recipe.add_argument(
        "--erase",
        type=float,
        metavar="P",
        help="probability of random erasing of a training face (0: none)",
    )
    recipe.add_argument(
        "--translate",
        type=float,
        metavar="FRACTION",
        help="largest random shift of a training face, as a fraction of its side",
    )
    recipe.add_argument("--mixed-precision", choices=list(_PRECISIONS))
    recipe.add_argument("--seed", type=int)

    model = parser.add_argument_group("model overrides")
    model.add_argument(
        "--input-size", type=int, help="side the face is resized to for the backbone"
    )
    model.add_argument(
        "--backbone-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="architecture option of the backbone, VALUE in JSON, e.g. "
        "widths=[32,64,128]; repeatable",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="one line per epoch")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    from emonet.training import RECIPES, AugmentConfig

    values = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "freeze_epochs": args.freeze_epochs,
        "optimizer": args.optimizer,
        "learning_rate": args.learning_rate,
        "lr_schedule": args.lr_schedule,
        "weight_decay": args.weight_decay,
        "label_smoothing": args.label_smoothing,
        "mixup": args.mixup,
        "monitor": args.monitor,
        "seed": args.seed,
        "time_limit": args.time_limit,
    }
    overrides = {k: v for k, v in values.items() if v is not None}
    if args.early_stopping is not None:
        overrides["early_stopping_patience"] = args.early_stopping or None
    if args.class_weight is not None:
        overrides["class_weight"] = None if args.class_weight == "none" else "balanced"
    if args.mixed_precision is not None:
        overrides["mixed_precision"] = _PRECISIONS[args.mixed_precision]
    if args.ema is not None:
        overrides["ema_momentum"] = args.ema or None
    augment = {"mode": args.augment, "erase": args.erase, "translate": args.translate}
    augment = {k: v for k, v in augment.items() if v is not None}
    if augment:
        base = RECIPES[args.recipe]().augment.get_config()
        overrides["augment"] = AugmentConfig(**{**base, **augment})
    return overrides


def _backbone_options(items: list[str]) -> dict[str, Any]:
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--backbone-option expects KEY=VALUE, got {item!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def check_training_arguments(args: argparse.Namespace) -> None:
    """Refuse missing input files and malformed options before TensorFlow takes its
    seconds to import."""
    _backbone_options(args.backbone_option)
    features = Path(args.features)
    if not features.is_file():
        raise FileNotFoundError(f"{features}: no such features file")
    weights = args.weights
    # a name ("imagenet") or a path, told apart as emonet.models.build_backbone does
    if weights is not None and (weights.endswith(".h5") or "/" in weights or os.sep in weights):
        if not Path(weights).is_file():
            raise FileNotFoundError(f"{weights}: no such weights file")
    args.initial_model = _initial_model(args.initial_model)


def _initial_model(value: str | None) -> Path | None:
    """The ``.keras`` file ``--initial-model`` names: the file, or a run folder's."""
    if value is None:
        return None
    path = Path(value)
    if path.is_dir():
        path = path / "model.keras"
    if not path.is_file():
        raise FileNotFoundError(
            f"--initial-model {value}: no such .keras file or run folder with a model.keras"
        )
    return path


def _main(args: argparse.Namespace) -> int:
    check_training_arguments(args)
    import_tensorflow()
    from emonet.training import train

    return train_from_arguments(args, train)


def train_from_arguments(args: argparse.Namespace, fit: Callable[..., Any]) -> int:
    """Run ``fit`` (:func:`emonet.training.train`, or a function with its signature) on the
    features file, model and recipe the parsed arguments name, and report the result."""
    backbone_options = _backbone_options(args.backbone_option)
    from emonet.features import load_features
    from emonet.models import VARIANTS, variant_config
    from emonet.training import RECIPES

    base = VARIANTS[args.variant]
    if args.recipe is None:
        args.recipe = "cpu" if base.backbone in ("compact", None) else "paper"
    model_overrides: dict[str, Any] = {}
    if args.input_size is not None:
        model_overrides["input_size"] = args.input_size
    if backbone_options:
        model_overrides["backbone_options"] = {**base.backbone_options, **backbone_options}
    model_config = variant_config(args.variant, **model_overrides)
    config = RECIPES[args.recipe](**_overrides(args))

    usages = [args.train_usage] + ([] if args.val_usage == "none" else [args.val_usage])
    data = load_features(args.features, usage=usages)
    train_data = data.select(args.train_usage)
    val_data = None if args.val_usage == "none" else data.select(args.val_usage)
    if len(train_data) == 0:
        raise ValueError(f"{args.features}: no faces of usage {args.train_usage!r} to train on")
    if val_data is not None and len(val_data) == 0:
        raise ValueError(
            f"{args.features}: no faces of usage {args.val_usage!r} to validate on; "
            "pass --val-usage none to train without validation"
        )
    if val_data is None and config.monitor.startswith("val_"):
        config.monitor = config.monitor[4:]
    if val_data is None and config.lr_schedule == "plateau":
        config.lr_schedule = "cosine"

    import keras

    print(
        f"training {model_config.model_name} ({args.recipe} recipe, {keras.backend.backend()} "
        f"backend) on {len(train_data):,} "
        f"{args.train_usage} faces"
        + (f", validating on {len(val_data):,} {args.val_usage}" if val_data is not None else "")
        + (f", for at most {config.time_limit:g} min" if config.time_limit else "")
    )
    result = fit(
        train_data,
        val_data,
        model_config,
        config,
        weights=args.weights,
        initial_model=args.initial_model,
        out_dir=args.out,
        resume=args.resume,
        overwrite=args.overwrite,
        strategy=args.strategy,
        pipeline=args.pipeline,
        workers=args.workers,
        use_multiprocessing=args.multiprocessing,
        verbose=2 if args.quiet else "auto",
    )
    minutes = result.seconds / 60
    print(
        f"trained {model_config.model_name}: {result.epochs} epochs in {minutes:.1f} min "
        f"({result.seconds / max(result.epochs, 1):.0f} s/epoch), stopped by "
        f"{result.stop_reason.replace('_', ' ')}; best {result.monitor} {result.best_value:.4f} "
        f"at epoch {result.best_epoch}"
    )
    if val_data is not None:
        config_file = json.loads((result.out_dir / "config.json").read_text())
        accuracy = config_file["results"].get("validation_accuracy")
        if accuracy is not None:
            print(f"{args.val_usage} accuracy: {accuracy:.2%} ({len(val_data):,} faces)")
    print(
        f"wrote {result.out_dir}: model.keras, config.json, history.csv, history.png"
        + (", val_predictions.npz" if val_data is not None else "")
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``emonet-train``."""
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
