"""The work of a run: its inputs, those done before, and the units handed to the workers.

A unit is a group of photos (``photos_per_unit`` consecutive inputs) or a segment of a
video (``segment_s`` seconds of frames). Units are cut at fixed places of the input list,
so that a resumed run forms the same units of what is left; a unit's name begins with
the index of its first input (and its segment), so that names sort in the inputs' order.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emonet.recognize import find_inputs

__all__ = ["Unit", "expand_inputs", "plan_units"]


@dataclass
class Unit:
    """One task for a worker: photos, or the frames ``[start, stop)`` of one video."""

    name: str
    kind: str  # "photos" or "video"
    items: list[dict[str, Any]] = field(default_factory=list)
    start: int = 0
    stop: int | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "name": self.name,
                "kind": self.kind,
                "items": self.items,
                "start": self.start,
                "stop": self.stop,
            }
        )


def expand_inputs(inputs: Any) -> tuple[list[Path], list[Path], list[str]]:
    """The photos, videos and messages of skipped paths that ``inputs`` name: paths,
    folders (searched recursively) and glob patterns (``photos/**/*.jpg``)."""
    if isinstance(inputs, str | bytes | os.PathLike):
        inputs = [inputs]
    paths: list[Any] = []
    for name in inputs:
        text = os.fsdecode(name)
        if glob.has_magic(text) and not os.path.exists(text):
            found = sorted(glob.glob(text, recursive=True))
            if not found:
                raise FileNotFoundError(f"{text}: no file matches this pattern")
            paths += found
        else:
            paths.append(name)
    return find_inputs(paths)


def _stat(path: Path) -> dict[str, Any]:
    absolute = os.path.abspath(path)
    info = os.stat(absolute)
    return {
        "path": absolute,
        "source": os.fsdecode(path),
        "size": info.st_size,
        "mtime_ns": info.st_mtime_ns,
    }


def _unchanged(item: dict[str, Any], entry: dict[str, Any]) -> bool:
    return entry["size"] == item["size"] and entry["mtime_ns"] == item["mtime_ns"]


def _digest(parts: Iterable[Any]) -> str:
    return hashlib.sha1("\n".join(map(str, parts)).encode("utf-8", "surrogateescape")).hexdigest()[
        :8
    ]


def plan_units(
    photos: list[Path],
    videos: list[Path],
    done: dict[str, list[dict[str, Any]]],
    *,
    photos_per_unit: int,
    segment_s: float,
    every: int,
) -> tuple[list[Unit], int]:
    """The units of the inputs not done yet, and the number of inputs done before.

    A photo is done when the manifest holds its path with the same size and modification
    time; with the same path but another time, its content hash goes with it to the
    worker, which skips it if its content is unchanged. A video segment is done when the
    manifest holds the same path, size, time and frames.
    """
    units: list[Unit] = []
    n_done = 0
    for first in range(0, len(photos), photos_per_unit):
        items = []
        for path in photos[first : first + photos_per_unit]:
            item = _stat(path)
            entries = done.get(item["path"], [])
            if any(_unchanged(item, entry) for entry in entries):
                n_done += 1
                continue
            item["hash"] = entries[-1]["hash"] if entries else None
            items.append(item)
        if items:
            name = f"{first:09d}-000000-{_digest(i['path'] for i in items)}"
            units.append(Unit(name, "photos", items))
    for offset, path in enumerate(videos):
        index = len(photos) + offset
        item = _stat(path)
        fps, count = _video_length(item["path"])
        entries = done.get(item["path"], [])
        left = 0
        for segment, (start, stop) in enumerate(_segments(fps, count, segment_s, every)):
            if any(
                _unchanged(item, entry) and entry["start"] == start and entry["stop"] == stop
                for entry in entries
            ):
                continue
            left += 1
            name = f"{index:09d}-{segment:06d}-{_digest([item['path'], start, stop])}"
            units.append(Unit(name, "video", [item], start, stop))
        n_done += left == 0
    return units, n_done


def _segments(fps: float, count: int, segment_s: float, every: int) -> list[tuple[int, Any]]:
    """``[start, stop)`` frames of each segment (the last to the end: ``stop`` None)."""
    if fps <= 0 or count <= 0 or not segment_s:
        return [(0, None)]
    # whole multiples of `every`, so that the frames read are those of one pass
    length = max(every, -(-int(round(segment_s * fps)) // every) * every)
    starts = list(range(0, count, length))
    return [
        (start, None if i == len(starts) - 1 else start + length) for i, start in enumerate(starts)
    ]


def _video_length(path: str) -> tuple[float, int]:
    """Frame rate and frame count from the video's header; (0, 0) when unreadable (the
    worker names the reason)."""
    import cv2

    try:
        name = path.encode("utf-8").decode("utf-8")
    except UnicodeEncodeError:
        return 0.0, 0
    capture = cv2.VideoCapture(name)
    try:
        if not capture.isOpened():
            return 0.0, 0
        return (
            float(capture.get(cv2.CAP_PROP_FPS) or 0.0),
            int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
        )
    finally:
        capture.release()
