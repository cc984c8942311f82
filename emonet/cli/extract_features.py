"""``emonet-extract-features INPUT -o OUTPUT.h5``: the EmoNet features of a dataset."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from concurrent.futures.process import BrokenProcessPool

from emonet.cli._common import CommandParser, run
from emonet.features import BLOCK_NORMS, DETECTORS, FeatureExtractor, extract_to_file

_SHOWN_SKIPPED = 10


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="emonet-extract-features",
        description=(
            "Extract the 2,728 EmoNet features (68 dlib landmarks + sliding-window HOG) of "
            "every face of INPUT into one HDF5 file. INPUT is fer2013.csv, a FER2013 "
            "image-folder release (train/ and test/ or val/), or any <label>/<image> folder."
        ),
    )
    parser.add_argument("input", help="fer2013.csv or a folder of images")
    parser.add_argument("-o", "--output", required=True, help="the .h5 file to write")
    parser.add_argument(
        "-j", "--jobs", type=int, default=None, help="worker processes (default: all cores)"
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=1024,
        help="faces per chunk, the unit of resumption (default: 1024)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted (even killed) run from its finished chunks; refused "
        "if INPUT or the settings changed",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace OUTPUT and discard an interrupted run"
    )
    parser.add_argument(
        "--detect-faces",
        action="store_true",
        help="image folders of photos: detect, align and crop the largest face of each "
        "image (without it each image is taken as a face crop)",
    )
    parser.add_argument(
        "--detector",
        choices=DETECTORS,
        default="hog",
        help="with --detect-faces: dlib's HOG detector (default) or its CNN (slow)",
    )
    parser.add_argument(
        "--min-score",
        type=float,
        default=None,
        help="with --detect-faces: lowest detection score kept (default: the detector's)",
    )
    parser.add_argument(
        "--upsample",
        type=int,
        default=None,
        help="with --detect-faces: times photos are doubled for detection (default: only "
        "when no face is found at their own size)",
    )
    parser.add_argument(
        "--skip-unknown-labels",
        action="store_true",
        help="leave out label folders that name no FER2013 label",
    )
    parser.add_argument(
        "--block-norm",
        choices=BLOCK_NORMS,
        default="L2-Hys",
        help="HOG block normalisation (default: L2-Hys)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _main(args: argparse.Namespace) -> int:
    # SIGTERM (kill, a job scheduler) stops the run as Ctrl-C does: workers ended, the
    # unfinished output removed, the finished chunks kept for --resume
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        report = extract_to_file(
            args.input,
            args.output,
            jobs=args.jobs,
            chunk_size=args.chunk_size,
            resume=args.resume,
            overwrite=args.overwrite,
            detect_faces=args.detect_faces,
            detector=args.detector,
            min_score=args.min_score,
            upsample=args.upsample,
            skip_unknown_labels=args.skip_unknown_labels,
            extractor=FeatureExtractor(block_norm=args.block_norm),
            progress=not args.quiet,
        )
    except BrokenProcessPool as error:
        raise ChildProcessError(str(error)) from None  # the system failed: exit status 1
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    split = ", ".join(
        f"{n:,} {u or 'unspecified'}" for u, n in sorted(report.usage_counts.items())
    )
    rate = report.n_faces / report.seconds if report.seconds else 0.0
    print(
        f"wrote {report.output}: {report.n_faces:,} faces ({split or 'none'}), "
        f"{len(report.skipped):,} skipped, in {report.seconds:.1f} s ({rate:,.0f} faces/s)"
        + (f"; {report.resumed_chunks} chunk(s) resumed" if report.resumed_chunks else "")
        + (f"; {report.redone_chunks} damaged chunk(s) redone" if report.redone_chunks else "")
    )
    if report.skipped_label_folders:
        print(f"left out unknown label folders: {', '.join(report.skipped_label_folders)}")
    for name, reason in report.skipped[:_SHOWN_SKIPPED]:
        print(f"skipped {name}: {reason}")
    if len(report.skipped) > _SHOWN_SKIPPED:
        print(
            f"... and {len(report.skipped) - _SHOWN_SKIPPED:,} more, all listed in the "
            "file's skipped_ids and skipped_reasons"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``emonet-extract-features``."""
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
