"""``emonet-predict PATH ...``: the expressions of the faces in photos, folders and videos."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from emonet._image import IMAGE_EXTENSIONS
from emonet._io import atomic_write_text
from emonet._tensorflow import import_tensorflow
from emonet.cli._common import CommandParser, add_tta_options, run
from emonet.features import DETECTORS

#: Files read as videos (frame by frame); the others of IMAGE_EXTENSIONS as photos.
VIDEO_EXTENSIONS: tuple[str, ...] = (
    ".mp4",
    ".avi",
    ".mov",
    ".mkv",
    ".webm",
    ".m4v",
    ".mpg",
    ".mpeg",
    ".wmv",
)
# Photos whose faces share one network pass: enough to fill a batch, few enough to keep
# a folder's memory flat.
_PHOTOS_PER_GROUP = 32


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="emonet-predict",
        description=(
            "Find the faces in photos, folders (recursively) and videos and print each "
            "face's expression, with emonet's bundled models (no download) or your own. "
            "Unreadable files are named and skipped; the exit status is 0 when the run "
            "finished."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image, folder or video")
    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print JSON instead of a table")
    out.add_argument("--csv", metavar="FILE", help="also write one row per face to FILE")
    out.add_argument(
        "--annotate",
        metavar="DIR",
        help="write annotated images (box, label, probability bars) into DIR; for a "
        "video, an annotated video and a PNG of the expressions over time",
    )
    out.add_argument("--overwrite", action="store_true", help="replace an existing --csv FILE")
    out.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    how = parser.add_argument_group("recognition")
    how.add_argument("--every", type=int, default=1, metavar="N", help="every N-th video frame")
    add_tta_options(how, default=None, who="read each face")
    how.add_argument("--preset", default="default", help="bundled preset or preset folder")
    how.add_argument(
        "--models",
        nargs="+",
        metavar="MODEL",
        help="your own run folders, .keras or .tflite (emonet-quantize) files",
    )
    how.add_argument("--ensemble", metavar="JSON", help="ensemble.json of emonet-fit-ensemble")
    how.add_argument("--detector", choices=DETECTORS, default="hog")
    how.add_argument(
        "--upsample", type=int, default=None, help="times photos are doubled for detection"
    )
    how.add_argument("--min-score", type=float, default=None, help="lowest detection score")
    how.add_argument("--batch-size", type=int, default=256)
    return parser


def collect_inputs(paths: list[str]) -> tuple[list[Path], list[str]]:
    """The image and video files named by ``paths`` (folders searched recursively).

    Returns the files in a stable order and the messages of paths that were skipped.

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    """
    files: list[Path] = []
    skipped: list[str] = []
    known = (*IMAGE_EXTENSIONS, *VIDEO_EXTENSIONS)
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in known)
            if not found:
                skipped.append(f"{path}: no image or video files in this folder")
            files += found
        elif path.is_file():
            if path.suffix.lower() in known:
                files.append(path)
            else:
                skipped.append(
                    f"{path}: not an image or video file ({path.suffix or 'no suffix'})"
                )
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return files, skipped


def _check_args(args: argparse.Namespace) -> None:
    if args.every < 1:
        raise ValueError(f"--every must be at least 1, got {args.every}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.upsample is not None and args.upsample < 0:
        raise ValueError(f"--upsample must be 0 or more, got {args.upsample}")
    if args.ensemble and not args.models:
        raise ValueError("--ensemble needs --models: the models it weighs")
    for model in args.models or []:
        if not Path(model).exists():
            raise FileNotFoundError(f"{model}: no such model file or run folder")
    if args.ensemble and not Path(args.ensemble).is_file():
        raise FileNotFoundError(f"{args.ensemble}: no such ensemble file")
    if args.csv and Path(args.csv).exists() and not args.overwrite:
        raise FileExistsError(f"{args.csv} exists; pass --overwrite to replace it")


def _main(args: argparse.Namespace) -> int:
    _check_args(args)
    files, skipped = collect_inputs(args.paths)
    for message in skipped:
        _warn(f"skipped {message}")
    import_tensorflow()
    from emonet.recognize import ROW_COLUMNS, Recognizer

    recognizer = Recognizer(
        args.preset,
        models=args.models,
        ensemble=args.ensemble,
        detector=args.detector,
        upsample=args.upsample,
        min_score=args.min_score,
        tta=args.tta,
        batch_size=args.batch_size,
    )
    annotate_dir = Path(args.annotate) if args.annotate else None
    rows: list[dict[str, Any]] = []
    documents: list[dict[str, Any]] = []
    photos = [f for f in files if f.suffix.lower() not in VIDEO_EXTENSIONS]
    videos = [f for f in files if f.suffix.lower() in VIDEO_EXTENSIONS]
    n_skipped = len(skipped)

    for path, faces, image in _photo_results(recognizer, photos, args.quiet):
        if faces is None:
            n_skipped += 1
            continue
        documents.append({"source": str(path), "faces": [f.to_dict() for f in faces]})
        new_rows = [face.to_row(str(path), face=i) for i, face in enumerate(faces)]
        rows += new_rows
        if not args.json:
            _print_rows(new_rows, str(path))
        if annotate_dir is not None:
            from emonet.recognize import annotate, save_image

            save_image(annotate(image, faces), annotate_dir / _annotated_name(path, ".png"))

    for path in videos:
        try:
            document, new_rows = _video(recognizer, path, args, annotate_dir)
        except ValueError as error:
            _warn(f"skipped {error}")
            n_skipped += 1
            continue
        documents.append(document)
        rows += new_rows

    if args.json:
        json.dump(documents, sys.stdout, indent=1)
        sys.stdout.write("\n")
    if args.csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=ROW_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(args.csv, buffer.getvalue())
    n_faces = len(rows)
    print(
        f"{len(documents)} files, {n_faces} faces"
        + (f", {n_skipped} skipped" if n_skipped else "")
        + (f"; wrote {args.csv}" if args.csv else "")
        + (f"; annotated into {annotate_dir}" if annotate_dir else ""),
        file=sys.stderr,
    )
    return 0


def _photo_results(recognizer, photos: list[Path], quiet: bool) -> Iterator[tuple]:
    """(path, faces or None when unreadable, image) per photo, in groups sharing a batch."""
    from tqdm import tqdm

    from emonet.recognize import read_photo

    bar = tqdm(total=len(photos), unit="photo", disable=quiet or len(photos) < 2, file=sys.stderr)
    for start in range(0, len(photos), _PHOTOS_PER_GROUP):
        group = photos[start : start + _PHOTOS_PER_GROUP]
        readable, images = [], []
        for path in group:
            try:
                images.append(read_photo(path))
                readable.append(path)
            except (OSError, ValueError) as error:
                bar.clear()
                _warn(f"skipped {error}")
                yield path, None, None
        for path, image, faces in zip(
            readable, images, recognizer.predict(images) if images else [], strict=True
        ):
            yield path, faces, image
        bar.update(len(group))
    bar.close()


def _video(recognizer, path: Path, args: argparse.Namespace, annotate_dir: Path | None):
    from tqdm import tqdm

    from emonet.recognize import annotate, plot_timeline, video_info

    info = video_info(path)
    total = -(-info["frames"] // args.every) if info["frames"] > 0 else None
    writer = None
    frames, rows = [], []
    bar = tqdm(total=total, unit="frame", desc=path.name, disable=args.quiet, file=sys.stderr)
    try:
        for frame in recognizer.predict_video(
            path, args.every, keep_images=annotate_dir is not None
        ):
            new_rows = frame.to_rows(str(path))
            rows += new_rows
            # kept for the JSON and the timeline, without the image: memory stays flat
            frames.append(dataclasses.replace(frame, image=None))
            if not args.json:
                bar.clear()
                _print_rows(new_rows, f"{path} frame {frame.index}", quiet_empty=True)
            if annotate_dir is not None:
                writer = writer or _video_writer(
                    annotate_dir / _annotated_name(path, ".mp4"), info, args.every, frame.image
                )
                import cv2

                writer.write(cv2.cvtColor(annotate(frame.image, frame.faces), cv2.COLOR_RGB2BGR))
            bar.update(1)
    finally:
        bar.close()
        if writer is not None:
            writer.release()
    if annotate_dir is not None and frames:
        plot_timeline(frames, annotate_dir / _annotated_name(path, ".timeline.png"), path.name)
    document = {
        "source": str(path),
        "video": {"fps": info["fps"], "frames": info["frames"], "every": args.every},
        "frames": [frame.to_dict() for frame in frames],
    }
    return document, rows


def _video_writer(path: Path, info: dict, every: int, first):
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    fps = info["fps"] / every if info["fps"] > 0 else 10.0
    height, width = first.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise ValueError(f"{path}: OpenCV cannot write this video")
    return writer


def _annotated_name(path: Path, suffix: str) -> str:
    # the relative path flattened, so files of the same name in two folders stay apart
    parts = [p for p in path.with_suffix("").parts if p not in ("/", "..", ".")]
    return "__".join(parts[-3:]) + suffix


def _print_rows(rows: list[dict[str, Any]], where: str, quiet_empty: bool = False) -> None:
    if not rows:
        if not quiet_empty:
            print(f"{where}: no face")
        return
    for row in rows:
        print(
            f"{where}: face {row['face']} at ({row['left']}, {row['top']}, {row['right']}, "
            f"{row['bottom']}) {row['label']} {row['confidence']:.0%}"
        )


def _warn(message: str) -> None:
    print(f"emonet-predict: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``emonet-predict``."""
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
