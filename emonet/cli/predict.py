"""``emonet-predict PATH ...``: the expressions of the faces in photos, folders and videos."""

from __future__ import annotations

import argparse
import collections
import contextlib
import csv
import dataclasses
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from emonet._io import atomic_path, atomic_write_text
from emonet._tensorflow import import_tensorflow
from emonet.cli._common import (
    CommandParser,
    add_model_options,
    add_tta_options,
    check_model_options,
    check_output_file,
    check_output_folder,
    printable_path,
    run,
)
from emonet.cli._explain import (
    EXPLAIN_COLUMNS,
    add_explain_options,
    explain_photo,
    merge_explanations,
)
from emonet.cli._ray import add_ray_options, run_ray, wants_ray
from emonet.cli._video import (
    Summaries,
    add_video_options,
    check_video_args,
    run_camera,
    tracking_kwargs,
)
from emonet.features import DETECTORS

# light: the recognizer itself (Keras, dlib) is imported once the arguments are checked
from emonet.recognize import VIDEO_EXTENSIONS, find_inputs

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
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="image, folder or video (or --camera N)"
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--json",
        action="store_true",
        help='print JSON instead of a table: {"format": "emonet-predictions", '
        '"format_version": 2, ..., "results": [...]}',
    )
    out.add_argument("--csv", metavar="FILE", help="also write one row per face to FILE")
    out.add_argument(
        "--annotate",
        metavar="DIR",
        help="write annotated images (box, label, probability bars) into DIR, named by "
        "their path from the folder that holds all inputs ('/' made '__'); for a video, "
        "an annotated video and a PNG of the expressions over time",
    )
    out.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --csv FILE and annotated files (never an input)",
    )
    add_explain_options(out)
    out.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    how = parser.add_argument_group("recognition")
    how.add_argument("--every", type=int, default=1, metavar="N", help="every N-th video frame")
    add_tta_options(how, default=None, who="read each face")
    add_model_options(how)
    how.add_argument("--detector", choices=DETECTORS, default="hog")
    how.add_argument(
        "--upsample", type=int, default=None, help="times photos are doubled for detection"
    )
    how.add_argument("--min-score", type=float, default=None, help="lowest detection score")
    how.add_argument("--batch-size", type=int, default=256)
    add_video_options(parser)
    add_ray_options(parser)
    return parser


def annotation_paths(files: list[Path], folder: str | os.PathLike[str]) -> dict[Path, list[Path]]:
    """Where ``--annotate`` writes the annotated copies of ``files``, before the work.

    A file's copies are named by its path from the folder that holds all the inputs,
    its parts joined by ``__``, with the suffix of the copy: ``.png`` for a photo,
    ``.mp4`` and ``.timeline.png`` for a video (``a/x/y/z.jpg`` and ``b/x/y/z.jpg`` give
    ``a__x__y__z.png`` and ``b__x__y__z.png``). Where that name is another input's too
    (``p.jpg`` and ``p.png``) or is an input itself (``me.png`` annotated into its own
    folder), the file's own suffix stays in the name: ``p.jpg.png``, ``p.png.png``.

    Returns
    -------
    dict
        ``{input: [its output paths]}``.

    Raises
    ------
    ValueError
        If two inputs still share an output, or an output would replace an input.
    """
    if not files:
        return {}
    folder = Path(folder)
    absolute = {path: Path(os.path.abspath(path)) for path in files}
    root = Path(os.path.commonpath([str(path.parent) for path in absolute.values()]))
    inputs = {_same_file_key(path): path for path in files}

    def outputs(path: Path, keep_suffix: bool) -> list[Path]:
        parts = absolute[path].relative_to(root).parts
        name = "__".join((*parts[:-1], parts[-1] if keep_suffix else absolute[path].stem))
        endings = (".mp4", ".timeline.png") if _is_video(path) else (".png",)
        return [folder / (name + ending) for ending in endings]

    def clashes(plan: dict[Path, list[Path]]) -> dict[Path, str]:
        owners = collections.Counter(_same_file_key(o) for outs in plan.values() for o in outs)
        found = {}
        for path, outs in plan.items():
            for out in outs:
                key = _same_file_key(out)
                if key in inputs:
                    found[path] = f"would replace the input {printable_path(inputs[key])}"
                elif owners[key] > 1:
                    found[path] = f"would share the name {printable_path(out.name)}"
        return found

    plan = {path: outputs(path, keep_suffix=False) for path in files}
    for path in clashes(plan):
        plan[path] = outputs(path, keep_suffix=True)
    left = clashes(plan)
    if left:
        path, what = next(iter(left.items()))
        raise ValueError(
            f"--annotate {printable_path(folder)}: the annotated copy of "
            f"{printable_path(path)} {what}; choose another folder"
        )
    return plan


def _same_file_key(path: Path) -> Path:
    # links followed, so that two names of one file compare equal
    return Path(os.path.realpath(path))


def _is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def _check_args(args: argparse.Namespace) -> None:
    check_video_args(args)
    if args.every < 1:
        raise ValueError(f"--every must be at least 1, got {args.every}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.upsample is not None and args.upsample < 0:
        raise ValueError(f"--upsample must be 0 or more, got {args.upsample}")
    check_model_options(args)
    if args.csv:
        check_output_file(args.csv, "--csv", args.overwrite)
    if args.annotate:
        check_output_folder(args.annotate, "--annotate")
    if args.explain:
        check_output_folder(args.explain, "--explain")


def _check_outputs(args: argparse.Namespace, files: list[Path]) -> dict[Path, list[Path]]:
    """Every file the run will write, checked before the work: never an input, never an
    existing file without --overwrite. Returns the annotated copies' paths per input."""
    plan = annotation_paths(files, args.annotate) if args.annotate else {}
    inputs = {_same_file_key(path) for path in files}
    outputs = {_same_file_key(out): out for outs in plan.values() for out in outs}
    if args.csv:
        csv_key = _same_file_key(Path(args.csv))
        if csv_key in inputs:
            raise ValueError(f"--csv {args.csv} is one of the inputs; name another file")
        if csv_key in outputs:
            raise ValueError(f"--csv {args.csv} is also an annotated copy; name another file")
    for out in outputs.values():
        if out.exists() or out.is_symlink():
            if not args.overwrite:
                raise FileExistsError(
                    f"{printable_path(out)} exists; pass --overwrite to replace it"
                )
            if not out.is_file():
                raise FileExistsError(
                    f"--annotate: {printable_path(out)} exists and is no regular file; "
                    "choose another folder"
                )
    return plan


def _main(args: argparse.Namespace) -> int:
    if wants_ray(args):  # emonet-predict --ray ... --out FOLDER: emonet.cli._ray
        return run_ray(args)
    _check_args(args)
    photos, videos, skipped = find_inputs(args.paths)
    for message in skipped:
        _warn(f"skipped {message}")
    annotated = _check_outputs(args, [*photos, *videos])
    from emonet.recognize import lite_only

    # int8 networks alone (the bundled presets) need no TensorFlow: a quicker start
    import_tensorflow(lite_only=lite_only(args.preset, args.models))
    from emonet.recognize import ROW_COLUMNS, Recognizer, results_document

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
    if args.camera is not None:  # emonet-predict --camera N: emonet.cli._video
        return run_camera(recognizer, args, _print_rows)
    annotate_dir = Path(args.annotate) if args.annotate else None
    rows: list[dict[str, Any]] = []
    photo_results, video_results = [], []
    n_files, n_faces, n_skipped = 0, 0, len(skipped)

    explain_plan = annotation_paths(photos, args.explain) if args.explain else {}
    explanations: list[list[dict[str, Any]]] = []
    keep = bool(annotated) or bool(explain_plan)
    for path, result in _photo_results(recognizer, photos, args.quiet, keep):
        if result is None:
            n_skipped += 1
            continue
        n_files += 1
        # a file name that is no UTF-8 is written with its odd bytes as \xNN
        new_rows = result.to_rows()
        n_faces += len(new_rows)
        if args.csv:
            rows += new_rows
        if not args.json:
            _print_rows(new_rows, printable_path(path))
        if annotated:
            result.save(annotated[path][0])
        if explain_plan:
            base = explain_plan[path][0].with_suffix("")
            explanations.append(
                explain_photo(
                    recognizer, result.image, base, new_rows, args.explain_method, args.overwrite
                )
            )
        if args.json:
            photo_results.append(dataclasses.replace(result, image=None))

    summaries = Summaries(args.summary)
    for path in videos:
        try:
            video, new_rows, faces = _video(recognizer, path, args, annotated.get(path), summaries)
        except ValueError as error:
            _warn(f"skipped {error}")
            n_skipped += 1
            continue
        n_files += 1
        if args.json:
            video_results.append(video)
        rows += new_rows
        n_faces += faces

    if args.json:
        document = results_document(photo_results, video_results)
        if explain_plan:
            merge_explanations(document, explanations)
        json.dump(document, sys.stdout, indent=1)
        sys.stdout.write("\n")
    if args.csv:
        buffer = io.StringIO()
        columns = (*ROW_COLUMNS, *EXPLAIN_COLUMNS) if explain_plan else ROW_COLUMNS
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(args.csv, buffer.getvalue())
    print(
        f"{n_files} files, {n_faces} faces"
        + (f", {n_skipped} skipped" if n_skipped else "")
        + (f"; wrote {args.csv}" if args.csv else "")
        + (f"; annotated into {annotate_dir}" if annotate_dir else "")
        + summaries.save(),
        file=sys.stderr,
    )
    return 0


def _photo_results(
    recognizer, photos: list[Path], quiet: bool, keep_images: bool
) -> Iterator[tuple]:
    """(path, its PhotoResult or None when unreadable) per photo, in groups sharing a
    batch; the image kept in the result with ``keep_images``."""
    from tqdm import tqdm

    from emonet.recognize import read_photo

    bar = tqdm(total=len(photos), unit="photo", disable=quiet or len(photos) < 2, file=sys.stderr)
    for start in range(0, len(photos), _PHOTOS_PER_GROUP):
        group = photos[start : start + _PHOTOS_PER_GROUP]
        readable, images = [], []
        for path in group:
            # read here, one by one, so that an unreadable file is named and skipped
            try:
                images.append(read_photo(path))
                readable.append(path)
            except (OSError, ValueError) as error:
                bar.clear()
                _warn(f"skipped {error}")
                yield path, None
        results = recognizer.predict(images, keep_images=keep_images) if images else []
        for path, result in zip(readable, results, strict=True):
            yield path, dataclasses.replace(result, source=os.fsdecode(path))
        bar.update(len(group))
    bar.close()


def _video(
    recognizer, path: Path, args: argparse.Namespace, outputs: list[Path] | None, summaries
):
    """The VideoResult (frames without their images), CSV rows and number of faces of one
    video; with ``outputs`` (the annotated video and its timeline) both written, each
    atomically. Frames are kept only for the JSON and the timeline, rows only for the
    CSV: without them, memory stays flat however long the video."""
    from tqdm import tqdm

    from emonet.recognize import VideoResult, annotate, plot_timeline, video_info

    source = printable_path(path)
    info = video_info(path)
    total = -(-info["frames"] // args.every) if info["frames"] > 0 else None
    frames, rows, n_faces = [], [], 0
    keep_frames = args.json or outputs is not None
    summaries.start(os.fsdecode(path))
    with contextlib.ExitStack() as stack:
        bar = stack.enter_context(
            tqdm(
                total=total,
                unit="frame",
                desc=printable_path(path.name),
                disable=args.quiet,
                file=sys.stderr,
            )
        )
        writer = None
        keep = outputs is not None or summaries.wanted
        for frame in recognizer.predict_video(
            path, args.every, keep_images=keep, **tracking_kwargs(args)
        ):
            new_rows = frame.to_rows(source)
            n_faces += len(new_rows)
            if args.csv:
                rows += new_rows
            summaries.add(frame)
            if keep_frames:  # without the image
                frames.append(dataclasses.replace(frame, image=None))
            if not args.json:
                bar.clear()
                _print_rows(new_rows, f"{source} frame {frame.index}", quiet_empty=True)
            if outputs is not None:
                if writer is None:
                    # written beside the video under a temporary name and moved onto it
                    # when complete: a run that stops leaves no half-written video
                    temporary = stack.enter_context(atomic_path(outputs[0], suffix=".mp4"))
                    writer = _video_writer(temporary, outputs[0], info, args.every, frame)
                    stack.callback(writer.release)
                import cv2

                writer.write(cv2.cvtColor(annotate(frame.image, frame.faces), cv2.COLOR_RGB2BGR))
            bar.update(1)
    summaries.finish()
    if outputs is not None and frames:
        plot_timeline(frames, outputs[1], printable_path(path.name))
    video = VideoResult(
        source=os.fsdecode(path),
        fps=info["fps"],
        frame_count=info["frames"],
        every=args.every,
        frames=frames,
    )
    return video, rows, n_faces


def _video_writer(temporary: Path, target: Path, info: dict, every: int, first):
    import cv2

    fps = info["fps"] / every if info["fps"] > 0 else 10.0
    height, width = first.image.shape[:2]
    try:
        name = str(temporary).encode("utf-8").decode("utf-8")
    except UnicodeEncodeError:  # OpenCV crashes on the surrogates of such a name
        raise ValueError(
            f"{printable_path(target)}: OpenCV cannot write a file whose path is not UTF-8; "
            "choose another --annotate folder or rename the video"
        ) from None
    writer = cv2.VideoWriter(name, cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise ValueError(f"{printable_path(target)}: OpenCV cannot write this video")
    return writer


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
