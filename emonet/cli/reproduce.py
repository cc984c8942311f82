"""``emonet-reproduce FER2013 --out DIR``: the EmoNet paper's experiment in one command.

Usage::

    emonet-reproduce FER2013 --out runs/paper [--scale smoke|full] [--weights imagenet|DIR]
                     [--epochs N] [--variants NAME ...] [--strategy auto] [--precision auto]
    emonet-reproduce --pack FER2013 -o bundle.npz [--features FER2013.h5]
                     [--usage Training PublicTest]

FER2013 is ``fer2013.csv``, an image-folder release, a features file (``.h5``) or a bundle
(``.npz``, made by ``--pack``). Running it again with the same ``--out`` continues an
interrupted reproduction. See ``docs/reproduce.md``.

Exit status: 0 on success, 2 on bad input, 1 when the system fails, 130 when interrupted;
each failure is one line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from emonet._choices import STRATEGIES
from emonet._constants import USAGES
from emonet._tensorflow import import_tensorflow
from emonet.cli._common import CommandParser, run

PROG = "emonet-reproduce"
PAPER_VARIANT_NAMES = (
    "inception_resnet_v2",
    "inception_resnet_v2_features",
    "resnet50",
    "resnet50_features",
)
_PRECISIONS = {"auto": "auto", "bf16": "bfloat16", "fp16": "float16", "fp32": None}


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of ``emonet-reproduce``."""
    parser = CommandParser(
        prog=PROG,
        description=(
            "Reproduce the EmoNet paper: extract the features, train its four networks, "
            "predict PublicTest and PrivateTest, learn the ensemble weights on PublicTest, "
            "and write Table 1 and Table 2 beside the paper's, per-class figures, confusion "
            "matrices, training curves and the cost of each stage. With --pack, write the "
            "compact bundle that trains on a machine without dlib or TensorFlow."
        ),
        epilog="Example: emonet-reproduce ../shared/data/fer2013 --out runs/smoke --scale smoke",
    )
    parser.add_argument(
        "source",
        type=Path,
        metavar="FER2013",
        help="fer2013.csv, an image-folder release, a features file (.h5) or a bundle (.npz)",
    )
    parser.add_argument(
        "-o",
        "--out",
        required=True,
        type=Path,
        help="output folder (with --pack: the .npz bundle to write)",
    )
    parser.add_argument(
        "--scale",
        choices=("full", "smoke"),
        default="full",
        help="the paper's experiment, or the chain on a few hundred faces at "
        "small sizes (default: %(default)s)",
    )
    parser.add_argument(
        "--weights",
        default=None,
        metavar="imagenet|DIR",
        help="backbone weights: 'imagenet', or a folder of inception_resnet_v2.weights.h5 and "
        "resnet50.weights.h5; default from scratch. Pretrained weights add the frozen phase",
    )
    parser.add_argument(
        "--epochs",
        type=_positive,
        help="epochs of each network (default: the scale's, 55 at full scale)",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=PAPER_VARIANT_NAMES,
        default=list(PAPER_VARIANT_NAMES),
        help="networks to train (default: all four); a later run may add the others",
    )
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="auto",
        help="devices (default: every GPU of this machine)",
    )
    parser.add_argument(
        "--precision",
        choices=tuple(_PRECISIONS),
        default="auto",
        help="mixed precision; auto is bf16 on a GPU, fp32 on a CPU",
    )
    parser.add_argument("--workers", type=_positive, help="input pipeline workers")
    parser.add_argument(
        "--multiprocessing", action="store_true", help="the input workers are processes"
    )
    parser.add_argument("--jobs", type=_positive, help="feature-extraction processes")
    parser.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start again: remove what the reproduction wrote, and nothing else, from --out "
        "(its extracted features are kept if FER2013 is the same); with --pack, replace the "
        "bundle",
    )
    pack = parser.add_argument_group("the bundle")
    pack.add_argument("--pack", action="store_true", help="write the bundle to --out")
    pack.add_argument(
        "--features",
        type=Path,
        help="features file already extracted from FER2013 (else they are extracted first)",
    )
    pack.add_argument("--usage", nargs="+", choices=USAGES, help="usages to pack (default: all)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    return parser


def _main(args: argparse.Namespace) -> int:
    if not args.source.exists():
        raise FileNotFoundError(f"{args.source}: no such file or folder")
    if args.pack:
        from emonet.reproduce import pack_bundle

        report = pack_bundle(
            args.source,
            args.out,
            features=args.features,
            usage=args.usage,
            jobs=args.jobs,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
        if not args.quiet:
            print(
                f"wrote {report.path}: {report.faces:,} faces ({report.jpeg_faces:,} as their "
                f"original files, {report.png_faces:,} as PNG), {report.bytes / 1e6:.1f} MB"
            )
        return 0
    if args.features is not None or args.usage is not None:
        raise ValueError("--features and --usage go with --pack")
    import_tensorflow()
    from emonet.reproduce import reproduce

    reproduce(
        args.source,
        args.out,
        scale=args.scale,
        weights=args.weights,
        epochs=args.epochs,
        variants=args.variants,
        precision=_PRECISIONS[args.precision],
        strategy=args.strategy,
        workers=args.workers,
        use_multiprocessing=args.multiprocessing,
        jobs=args.jobs,
        seed=args.seed,
        overwrite=args.overwrite,
        verbose=0 if args.quiet else 2,
        log=None if args.quiet else print,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``emonet-reproduce``.

    Examples
    --------
    >>> from emonet.cli.reproduce import main
    >>> main(["fer2013.csv", "--out", "runs/smoke", "--scale", "smoke"])  # doctest: +SKIP
    0
    """
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
