"""Per-person summaries of a video: when each track was seen, the share of its time in
each expression, and a thumbnail of its clearest face."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from emonet._constants import LABELS
from emonet._io import atomic_write_bytes, atomic_write_text

__all__ = ["SUMMARY_COLUMNS", "TrackSummarizer", "TrackSummary", "save_summaries"]

#: Columns of a summary CSV (:func:`save_summaries`), in order.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "source",
    "track_id",
    "first_s",
    "last_s",
    "frames",
    "dominant",
    *(f"share_{name}" for name in LABELS),
    *(f"mean_{name}" for name in LABELS),
    "thumbnail",
)
_THUMBNAIL_SIDE = 112


@dataclass(frozen=True)
class TrackSummary:
    """What one tracked person did over a video.

    Attributes
    ----------
    track_id : int
    first_s, last_s : float
        Times of the first and last frames the person was seen in, in seconds.
    frames : int
        Frames the person was seen in.
    shares : dict of str to float
        Share of those frames per label of :data:`emonet.LABELS`, by the track's
        smoothed label; they sum to 1.
    dominant : str
        The label of the largest share.
    mean_probabilities : dict of str to float
        The smoothed probabilities averaged over those frames.
    thumbnail : ndarray or None
        The clearest face seen (RGB or gray uint8, up to 112 px), when frames were given.
    source : str
        The video (as given to :class:`TrackSummarizer`).
    """

    track_id: int
    first_s: float
    last_s: float
    frames: int
    shares: dict[str, float]
    dominant: str
    mean_probabilities: dict[str, float]
    thumbnail: np.ndarray | None = field(default=None, repr=False, compare=False)
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The summary as a JSON-compatible dict (no thumbnail)."""
        return {
            "source": self.source,
            "track_id": self.track_id,
            "first_s": round(self.first_s, 4),
            "last_s": round(self.last_s, 4),
            "frames": self.frames,
            "dominant": self.dominant,
            "shares": {k: round(v, 6) for k, v in self.shares.items()},
            "mean_probabilities": {k: round(v, 6) for k, v in self.mean_probabilities.items()},
        }


@dataclass
class _Running:
    first_s: float
    last_s: float
    frames: int = 0
    counts: np.ndarray = field(default_factory=lambda: np.zeros(len(LABELS)))
    total: np.ndarray = field(default_factory=lambda: np.zeros(len(LABELS)))
    clarity: float = -math.inf
    thumbnail: np.ndarray | None = None


class TrackSummarizer:
    """Gather the frames of each track into :class:`TrackSummary` objects, in memory
    that does not grow with the video's length (one thumbnail per track).

    Parameters
    ----------
    source : str, default=""
        The video, named in each summary.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.tracking import TrackSummarizer
    >>> summarizer = TrackSummarizer()
    >>> for time_s, label in [(0.0, "happy"), (0.5, "happy"), (1.0, "sad")]:
    ...     summarizer.add(7, time_s, label, np.full(7, 1 / 7))
    >>> (summary,) = summarizer.summaries()
    >>> summary.track_id, summary.frames, summary.dominant, round(summary.shares["sad"], 3)
    (7, 3, 'happy', 0.333)
    """

    def __init__(self, source: str = "") -> None:
        self.source = source
        self._tracks: dict[int, _Running] = {}

    def add(
        self,
        track_id: int,
        time_s: float,
        label: str,
        probabilities: np.ndarray,
        box: tuple[int, int, int, int] | None = None,
        image: np.ndarray | None = None,
    ) -> None:
        """Add one frame of a track.

        Parameters
        ----------
        track_id : int
        time_s : float
        label : str
            The track's (smoothed) label in the frame.
        probabilities : (7,) array_like
            Its (smoothed) probabilities.
        box : 4 ints, optional
            The face's box, with ``image`` to keep the clearest face as a thumbnail.
        image : ndarray, optional
            The frame (gray or RGB uint8).
        """
        running = self._tracks.get(int(track_id))
        if running is None:
            running = self._tracks[int(track_id)] = _Running(time_s, time_s)
        running.first_s = min(running.first_s, time_s)
        running.last_s = max(running.last_s, time_s)
        running.frames += 1
        running.counts[LABELS.index(label)] += 1
        running.total += np.asarray(probabilities, np.float64)
        if box is not None and image is not None:
            face = _cut(image, box)
            if face is not None:
                clarity = _clarity(face)
                if clarity > running.clarity:
                    running.clarity, running.thumbnail = clarity, face

    def summaries(self) -> list[TrackSummary]:
        """One summary per track, by id."""
        found = []
        for track_id, running in sorted(self._tracks.items()):
            shares = running.counts / max(running.frames, 1)
            mean = running.total / max(running.frames, 1)
            found.append(
                TrackSummary(
                    track_id=track_id,
                    first_s=float(running.first_s),
                    last_s=float(running.last_s),
                    frames=running.frames,
                    shares={k: float(v) for k, v in zip(LABELS, shares, strict=True)},
                    dominant=LABELS[int(np.argmax(shares))],
                    mean_probabilities={k: float(v) for k, v in zip(LABELS, mean, strict=True)},
                    thumbnail=running.thumbnail,
                    source=self.source,
                )
            )
        return found


def _cut(image: np.ndarray, box) -> np.ndarray | None:
    """The face of ``box`` with a margin, scaled to fit 112 px."""
    left, top, right, bottom = (int(v) for v in box)
    margin = (right - left) // 5
    height, width = image.shape[:2]
    x0, y0 = max(left - margin, 0), max(top - margin, 0)
    x1, y1 = min(right + margin, width), min(bottom + margin, height)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    face = image[y0:y1, x0:x1]
    scale = _THUMBNAIL_SIDE / max(face.shape[:2])
    size = (max(1, round(face.shape[1] * scale)), max(1, round(face.shape[0] * scale)))
    return cv2.resize(face, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def _clarity(face: np.ndarray) -> float:
    """Sharpness (variance of the Laplacian, at one size) of a face, less when cut off."""
    gray = face if face.ndim == 2 else cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
    gray = cv2.resize(gray, (64, 64), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def save_summaries(summaries: list[TrackSummary], path: str | os.PathLike[str]) -> list[Path]:
    """Write track summaries to a JSON or CSV file (by its suffix), and each track's
    thumbnail beside it as ``<name>.track<ID>.png``.

    Parameters
    ----------
    summaries : list of TrackSummary
    path : str or path-like
        ``.json`` (``{"format": "emonet-track-summary", "format_version": 1, "labels":
        [...], "tracks": [...]}``) or ``.csv`` (:data:`SUMMARY_COLUMNS`); each track's
        ``thumbnail`` names its PNG (empty when none was kept).

    Returns
    -------
    list of pathlib.Path
        The files written: the summary, then the thumbnails.

    Raises
    ------
    ValueError
        If the suffix is neither ``.json`` nor ``.csv``.

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from emonet.tracking import TrackSummarizer, save_summaries
    >>> summarizer = TrackSummarizer()
    >>> summarizer.add(1, 0.0, "happy", np.eye(7)[3], (10, 10, 60, 60),
    ...                np.zeros((100, 100, 3), np.uint8))
    >>> folder = Path(tempfile.mkdtemp())
    >>> [p.name for p in save_summaries(summarizer.summaries(), folder / "people.json")]
    ['people.json', 'people.track1.png']
    >>> json.loads((folder / "people.json").read_text())["tracks"][0]["dominant"]
    'happy'
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise ValueError(f"--summary {path}: expected a .json or .csv file, got {suffix!r}")
    thumbnails: dict[int, Path] = {}
    sources = list(dict.fromkeys(summary.source for summary in summaries))
    for number, summary in enumerate(summaries):
        if summary.thumbnail is not None:
            video = f".{sources.index(summary.source) + 1}" if len(sources) > 1 else ""
            thumbnails[number] = path.with_name(f"{path.stem}{video}.track{summary.track_id}.png")
    if suffix == ".json":
        document = {
            "format": "emonet-track-summary",
            "format_version": 1,
            "labels": list(LABELS),
            "tracks": [
                {
                    **summary.to_dict(),
                    "thumbnail": thumbnails[number].name if number in thumbnails else None,
                }
                for number, summary in enumerate(summaries)
            ],
        }
        atomic_write_text(path, json.dumps(document, indent=1) + "\n")
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for number, summary in enumerate(summaries):
            writer.writerow(
                {
                    "source": summary.source,
                    "track_id": summary.track_id,
                    "first_s": round(summary.first_s, 4),
                    "last_s": round(summary.last_s, 4),
                    "frames": summary.frames,
                    "dominant": summary.dominant,
                    **{f"share_{k}": round(v, 6) for k, v in summary.shares.items()},
                    **{f"mean_{k}": round(v, 6) for k, v in summary.mean_probabilities.items()},
                    "thumbnail": thumbnails[number].name if number in thumbnails else "",
                }
            )
        atomic_write_text(path, buffer.getvalue())
    written = [path]
    for number, summary in enumerate(summaries):
        if number in thumbnails:
            image = summary.thumbnail
            bgr = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
            ok, encoded = cv2.imencode(".png", bgr)
            if ok:
                written.append(atomic_write_bytes(thumbnails[number], encoded.tobytes()))
    return written
