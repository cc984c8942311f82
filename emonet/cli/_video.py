"""``emonet-predict``'s video options: tracks, smoothing, ``--summary``, and live sources
(``--camera N --duration S``)."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from emonet._io import atomic_write_text
from emonet.cli._common import check_output_file


def add_video_options(parser: argparse.ArgumentParser) -> None:
    """The tracking, smoothing, summary and camera options."""
    group = parser.add_argument_group("videos and live sources")
    group.add_argument(
        "--camera",
        type=int,
        metavar="N",
        default=None,
        help="read camera N (0: the first) instead of files; a live window shows the "
        "annotated frames where a display exists, else rows are printed as for a video",
    )
    group.add_argument(
        "--duration", type=float, metavar="S", default=None, help="stop --camera after S seconds"
    )
    group.add_argument(
        "--no-track",
        dest="track",
        action="store_false",
        help="no track ids or smoothing: each video frame on its own",
    )
    group.add_argument(
        "--detect-every",
        type=int,
        default=1,
        metavar="N",
        help="detect faces on every N-th frame read and follow them in between (5: about "
        "3x the frames per second, every frame still read)",
    )
    group.add_argument(
        "--smooth",
        type=float,
        default=1.0,
        metavar="S",
        help="time constant of the smoothing of each track's probabilities, in seconds "
        "(0: off); default 1",
    )
    group.add_argument(
        "--keep-lost",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds a person out of sight is remembered, to get their id back (default 10)",
    )
    group.add_argument(
        "--reid-threshold",
        type=float,
        default=0.5,
        metavar="D",
        help="largest face-descriptor distance of one person (default 0.5)",
    )
    group.add_argument(
        "--summary",
        metavar="FILE",
        help="write one row per person (track) of the videos to FILE (.json or .csv), with "
        "a PNG of each person's clearest face beside it",
    )


def check_video_args(args: argparse.Namespace) -> None:
    """The video options, checked before the work."""
    if not args.paths and args.camera is None:
        raise ValueError("give a PATH (image, folder or video) or --camera N")
    if args.paths and args.camera is not None:
        raise ValueError("--camera N reads a camera: give no PATH with it")
    if args.camera is not None and args.annotate:
        raise ValueError(
            "--annotate writes annotated copies of files; --camera shows its frames "
            "annotated in a live window where a display exists"
        )
    if args.duration is not None and args.duration <= 0:
        raise ValueError(f"--duration must be a number of seconds > 0, got {args.duration}")
    if args.duration is not None and args.camera is None:
        raise ValueError("--duration stops --camera; a file is read to its end")
    if args.detect_every < 1:
        raise ValueError(f"--detect-every must be at least 1, got {args.detect_every}")
    if args.detect_every > 1 and not args.track:
        raise ValueError("--detect-every follows faces between detections: drop --no-track")
    for name in ("smooth", "keep_lost", "reid_threshold"):
        if not getattr(args, name) >= 0:
            option = "--" + name.replace("_", "-")
            raise ValueError(f"{option} must be 0 or more, got {getattr(args, name)}")
    if args.summary:
        if Path(args.summary).suffix.lower() not in (".json", ".csv"):
            raise ValueError(f"--summary {args.summary}: expected a .json or .csv file")
        if not args.track:
            raise ValueError("--summary sums up tracks: drop --no-track")
        check_output_file(args.summary, "--summary", args.overwrite)


def tracking_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :meth:`Recognizer.predict_video` and ``stream``."""
    return {
        "track": args.track,
        "detect_every": args.detect_every,
        "smoothing": args.smooth or None,
        "keep_lost": args.keep_lost,
        "reid_threshold": args.reid_threshold,
    }


class Summaries:
    """The per-person summaries of a run's videos (``--summary``)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.done: list = []
        self._current = None

    @property
    def wanted(self) -> bool:
        return self.path is not None

    def start(self, source: str) -> None:
        from emonet.tracking import TrackSummarizer

        if self.wanted:
            self._current = TrackSummarizer(source)

    def add(self, frame) -> None:
        if self._current is None:
            return
        for face in frame.faces:
            if face.track_id is not None:
                self._current.add(
                    face.track_id,
                    frame.time_s,
                    face.smoothed_label,
                    [face.smoothed_probabilities[name] for name in face.probabilities],
                    face.box,
                    frame.image,
                )

    def finish(self) -> None:
        if self._current is not None:
            self.done += self._current.summaries()
            self._current = None

    def save(self) -> str:
        """Write the file; the note for the run's last line."""
        if not self.wanted:
            return ""
        from emonet.tracking import save_summaries

        self.finish()
        written = save_summaries(self.done, self.path)
        return f"; {len(self.done)} people in {self.path} ({len(written) - 1} thumbnails)"


def run_camera(recognizer, args: argparse.Namespace, print_rows) -> int:
    """``emonet-predict --camera N``: read the camera until --duration or Ctrl-C; a live
    window where OpenCV can show one, else rows printed; --csv, --json, --summary as for
    a video."""
    from emonet.recognize import ROW_COLUMNS, VideoResult, annotate, results_document

    source = f"camera {args.camera}"
    summaries = Summaries(args.summary)
    summaries.start(source)
    window = _window_possible()
    # frames kept only for --json, rows only for --csv: a camera may run for hours
    frames, rows, n_frames, n_faces = [], [], 0, 0
    stream = recognizer.stream(
        args.camera,
        every=args.every,
        duration=args.duration,
        keep_images=window or summaries.wanted,
        **tracking_kwargs(args),
    )
    with stream:
        for frame in stream:
            new_rows = frame.to_rows(source)
            n_frames += 1
            n_faces += len(new_rows)
            if args.csv:
                rows += new_rows
            summaries.add(frame)
            if args.json:
                frames.append(_without_image(frame))
            if not args.json:
                print_rows(new_rows, f"{source} frame {frame.index}", quiet_empty=True)
            if window:
                import cv2

                shown = annotate(frame.image, frame.faces)
                cv2.imshow("emonet", cv2.cvtColor(shown, cv2.COLOR_RGB2BGR))
                if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                    break
    if window:
        import cv2

        cv2.destroyAllWindows()
    if args.json:
        video = VideoResult(source, 0.0, len(frames), args.every, frames)
        json.dump(results_document([], [video]), sys.stdout, indent=1)
        sys.stdout.write("\n")
    if args.csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=ROW_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(args.csv, buffer.getvalue())
    note = summaries.save()
    print(
        f"{source}: {n_frames} frames, {n_faces} faces, {stream.dropped} frames dropped "
        f"(the recognizer was behind)" + (f"; wrote {args.csv}" if args.csv else "") + note,
        file=sys.stderr,
    )
    return 0


def _without_image(frame):
    import dataclasses

    return dataclasses.replace(frame, image=None)


def _window_possible() -> bool:
    """Whether OpenCV can show a window: a display, and highgui built in."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.name == "nt"):
        return False
    import cv2

    return (
        "GUI:" in cv2.getBuildInformation()
        and "NONE" not in (cv2.getBuildInformation().split("GUI:")[1].splitlines()[0])
    )


__all__ = [
    "Summaries",
    "add_video_options",
    "check_video_args",
    "run_camera",
    "tracking_kwargs",
]
