"""One result format everywhere: a face, as a dict (JSON) or a flat row (CSV), and the
faces of video frames.

A :class:`Face` is a dict (:meth:`Face.to_dict`) or a flat row (:data:`ROW_COLUMNS`); a
:class:`FrameResult` holds the faces of one video frame, a :class:`VideoResult` a
video's frames. The faces of a photo are a :class:`~emonet.recognize.PhotoResult`
(``_photo_result``, which draws them, and builds the JSON document).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emonet._constants import LABELS

__all__ = ["ROW_COLUMNS", "Face", "FrameResult", "VideoResult"]

#: Columns of :meth:`Face.to_row`, in order: where the face was, then its expression,
#: then (format version 2) its track and smoothed expression, empty for photos.
#: ``score`` repeats ``detection_score`` for one release (deprecated).
ROW_COLUMNS: tuple[str, ...] = (
    "source",
    "frame",
    "time_s",
    "face",
    "left",
    "top",
    "right",
    "bottom",
    "detection_score",
    "score",
    "label",
    "confidence",
    *LABELS,
    "track_id",
    "smoothed_label",
    "smoothed_confidence",
    *(f"smoothed_{name}" for name in LABELS),
)


@dataclass(frozen=True, init=False)
class Face:
    """A face found in a photo or a video frame, and its expression.

    Built by :meth:`Recognizer.predict`, or by :meth:`from_probabilities`. The
    constructor takes the attributes below (``score=`` is the deprecated name of
    ``detection_score``, taken for one more release).

    Attributes
    ----------
    box : tuple of 4 int
        ``(left, top, right, bottom)`` in the photo's pixels.
    detection_score : float
        How sure the detector is that this is a face (the SVM margin of dlib's HOG
        detector, the confidence of its CNN); NaN for a box given to
        :meth:`Recognizer.predict`. Not the expression's probability: that is
        ``confidence``.
    landmarks : (68, 2) ndarray of float32
        dlib's 68 points, ``(x, y)`` in the photo's pixels.
    probabilities : dict of str to float
        One probability per label of :data:`emonet.LABELS`, in that order; they sum to 1.
    label : str
        The most probable label.
    confidence : float
        Its probability.
    track_id : int or None
        The person, in a video (:meth:`Recognizer.predict_video` with tracking): one id
        per person for the whole video; ``None`` in photos.
    smoothed_probabilities : dict of str to float or None
        The track's probabilities smoothed over time (``None`` without a track).
    smoothed_label : str or None
        The track's label, which changes only when the smoothed probabilities say so.
    smoothed_confidence : float or None
        Its smoothed probability.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.recognize import Face
    >>> face = Face.from_probabilities((10, 20, 60, 70), 1.2, np.zeros((68, 2)),
    ...                                [0.1, 0, 0, 0.7, 0.1, 0, 0.1])
    >>> face.label, face.confidence, face.detection_score
    ('happy', 0.7, 1.2)
    >>> face.to_row(source="a.jpg")["happy"]
    0.7
    """

    box: tuple[int, int, int, int]
    detection_score: float
    landmarks: np.ndarray = field(repr=False, compare=False)  # arrays have no truth value
    probabilities: dict[str, float]
    label: str
    confidence: float
    track_id: int | None = None
    smoothed_probabilities: dict[str, float] | None = None
    smoothed_label: str | None = None
    smoothed_confidence: float | None = None

    def __init__(
        self,
        box: tuple[int, int, int, int],
        detection_score: float | None = None,
        landmarks: np.ndarray | None = None,
        probabilities: dict[str, float] | None = None,
        label: str | None = None,
        confidence: float | None = None,
        *,
        track_id: int | None = None,
        smoothed_probabilities: dict[str, float] | None = None,
        smoothed_label: str | None = None,
        smoothed_confidence: float | None = None,
        score: float | None = None,
    ) -> None:
        values = {
            "box": box,
            "detection_score": _renamed_score(detection_score, score, "Face"),
            "landmarks": landmarks,
            "probabilities": probabilities,
            "label": label,
            "confidence": confidence,
        }
        missing = [name for name, value in values.items() if value is None]
        if missing:
            raise TypeError(f"Face: missing {', '.join(missing)}")
        for name, value in values.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "track_id", None if track_id is None else int(track_id))
        object.__setattr__(self, "smoothed_probabilities", smoothed_probabilities)
        object.__setattr__(self, "smoothed_label", smoothed_label)
        object.__setattr__(self, "smoothed_confidence", smoothed_confidence)

    @property
    def score(self) -> float:
        """Deprecated name of :attr:`detection_score`; it goes in the next release."""
        warnings.warn(
            "Face.score is deprecated and goes in the next release: use "
            "Face.detection_score (the detector's score; the expression's probability is "
            "Face.confidence)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.detection_score

    @classmethod
    def from_probabilities(
        cls,
        box,
        detection_score: float | None = None,
        landmarks: np.ndarray | None = None,
        probabilities=None,
        *,
        track_id: int | None = None,
        smoothed=None,
        smoothed_label: str | None = None,
        score: float | None = None,
    ) -> Face:
        """Build a face from its box, detection score, landmarks and probability vector.

        Parameters
        ----------
        box : 4 numbers
            ``(left, top, right, bottom)``.
        detection_score : float
            The detector's score (NaN for a box found by other means).
        landmarks : (68, 2) array_like
        probabilities : 7 numbers
            In the order of :data:`emonet.LABELS`.
        track_id : int, optional
            The face's track, in a video.
        smoothed : 7 numbers, optional
            The track's smoothed probabilities, in the order of :data:`emonet.LABELS`.
        smoothed_label : str, optional
            The track's label (default: the most probable of ``smoothed``).
        score : float, optional
            Deprecated name of ``detection_score``, taken for one more release.

        Raises
        ------
        TypeError
            If the score is missing, or given under both names.
        ValueError
            If ``probabilities`` is not one value per label.
        """
        detection_score = _renamed_score(detection_score, score, "Face.from_probabilities")
        missing = [
            name
            for name, value in (
                ("detection_score", detection_score),
                ("landmarks", landmarks),
                ("probabilities", probabilities),
            )
            if value is None
        ]
        if missing:
            raise TypeError(f"Face.from_probabilities: missing {', '.join(missing)}")
        values = np.asarray(probabilities, dtype=np.float64).ravel()
        if values.shape != (len(LABELS),):
            raise ValueError(f"expected {len(LABELS)} probabilities, got {values.shape}")
        best = int(np.argmax(values))
        smoothed_values = smoothed_confidence = None
        if smoothed is not None:
            array = np.asarray(smoothed, dtype=np.float64).ravel()
            if array.shape != (len(LABELS),):
                raise ValueError(f"expected {len(LABELS)} smoothed values, got {array.shape}")
            if smoothed_label is None:
                smoothed_label = LABELS[int(np.argmax(array))]
            elif smoothed_label not in LABELS:
                raise ValueError(f"smoothed_label must be one of {LABELS}, got {smoothed_label!r}")
            smoothed_values = {name: float(v) for name, v in zip(LABELS, array, strict=True)}
            smoothed_confidence = smoothed_values[smoothed_label]
        return cls(
            box=tuple(int(v) for v in box),
            detection_score=float(detection_score),
            landmarks=np.asarray(landmarks, dtype=np.float32).reshape(-1, 2),
            probabilities={name: float(v) for name, v in zip(LABELS, values, strict=True)},
            label=LABELS[best],
            confidence=float(values[best]),
            track_id=track_id,
            smoothed_probabilities=smoothed_values,
            smoothed_label=smoothed_label if smoothed is not None else None,
            smoothed_confidence=smoothed_confidence,
        )

    def to_dict(self) -> dict[str, Any]:
        """The face as a JSON-compatible dict: ``box``, ``detection_score``, ``label``,
        ``confidence``, ``probabilities``, ``landmarks``, ``score`` (the detection score
        under its deprecated name, for one release), and ``track_id``,
        ``smoothed_label``, ``smoothed_confidence``, ``smoothed_probabilities`` (``null``
        without a track: photos, or videos read without tracking)."""
        detection = round(self.detection_score, 4)
        smoothed = self.smoothed_probabilities
        return {
            "box": list(self.box),
            "detection_score": detection,
            "score": detection,
            "label": self.label,
            "confidence": round(self.confidence, 6),
            "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
            "landmarks": np.round(self.landmarks, 2).tolist(),
            "track_id": self.track_id,
            "smoothed_label": self.smoothed_label,
            "smoothed_confidence": None
            if self.smoothed_confidence is None
            else round(self.smoothed_confidence, 6),
            "smoothed_probabilities": None
            if smoothed is None
            else {k: round(v, 6) for k, v in smoothed.items()},
        }

    def to_row(
        self,
        source: str = "",
        frame: int | None = None,
        time_s: float | None = None,
        face: int = 0,
    ) -> dict[str, Any]:
        """The face as one flat row of :data:`ROW_COLUMNS` (no landmarks), for a CSV.

        Parameters
        ----------
        source : str
            The file the face comes from.
        frame, time_s : int and float, optional
            Frame index and its time in seconds, for videos.
        face : int
            Index of the face in its photo or frame.
        """
        left, top, right, bottom = self.box
        detection = round(self.detection_score, 4)
        smoothed = self.smoothed_probabilities
        return {
            "source": source,
            "frame": "" if frame is None else int(frame),
            "time_s": "" if time_s is None else round(float(time_s), 4),
            "face": int(face),
            "left": left,
            "top": top,
            "right": right,
            "bottom": bottom,
            "detection_score": detection,
            "score": detection,
            "label": self.label,
            "confidence": round(self.confidence, 6),
            **{k: round(v, 6) for k, v in self.probabilities.items()},
            "track_id": "" if self.track_id is None else self.track_id,
            "smoothed_label": self.smoothed_label or "",
            "smoothed_confidence": ""
            if self.smoothed_confidence is None
            else round(self.smoothed_confidence, 6),
            **{f"smoothed_{k}": "" if smoothed is None else round(smoothed[k], 6) for k in LABELS},
        }


@dataclass(frozen=True)
class FrameResult:
    """The faces of one video frame.

    Attributes
    ----------
    index : int
        The frame's index in the video, from 0.
    time_s : float
        Its time in seconds (index / frames per second).
    faces : list of Face
    image : ndarray or None
        The frame (RGB), when asked for (``keep_images=True``).
    """

    index: int
    time_s: float
    faces: list[Face]
    image: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The frame as a JSON-compatible dict."""
        return {
            "frame": self.index,
            "time_s": round(self.time_s, 4),
            "faces": [face.to_dict() for face in self.faces],
        }

    def to_rows(self, source: str = "") -> list[dict[str, Any]]:
        """One :meth:`Face.to_row` per face."""
        return [
            face.to_row(source, frame=self.index, time_s=self.time_s, face=i)
            for i, face in enumerate(self.faces)
        ]


@dataclass(frozen=True)
class VideoResult:
    """The frames read from one video, for :func:`results_document`.

    Attributes
    ----------
    source : str or None
        The video file.
    fps : float
        Its frame rate (:func:`emonet.recognize.video_info`; 0 when unknown).
    frame_count : int
        Its number of frames, as the file reports it.
    every : int
        Every ``every``-th frame was read (:meth:`Recognizer.predict_video`).
    frames : list of FrameResult
        The frames read, as :meth:`Recognizer.predict_video` yields them.

    Examples
    --------
    >>> from emonet.recognize import FrameResult, VideoResult
    >>> video = VideoResult("clip.mp4", 25.0, 50, every=25,
    ...                     frames=[FrameResult(0, 0.0, []), FrameResult(25, 1.0, [])])
    >>> video.to_dict()["video"], [frame["time_s"] for frame in video.to_dict()["frames"]]
    ({'fps': 25.0, 'frames': 50, 'every': 25}, [0.0, 1.0])
    """

    source: str | None
    fps: float
    frame_count: int
    every: int
    frames: list[FrameResult]

    def to_dict(self) -> dict[str, Any]:
        """The video as a JSON-compatible dict: ``source``, ``video`` (``fps``,
        ``frames``: the file's frame count, ``every``) and ``frames`` (each
        :meth:`FrameResult.to_dict`)."""
        return {
            "source": None if self.source is None else _printable(self.source),
            "video": {"fps": self.fps, "frames": self.frame_count, "every": self.every},
            "frames": [frame.to_dict() for frame in self.frames],
        }

    def to_rows(self) -> list[dict[str, Any]]:
        """One :meth:`Face.to_row` per face of every frame."""
        source = "" if self.source is None else _printable(self.source)
        return [row for frame in self.frames for row in frame.to_rows(source)]


def _renamed_score(detection_score: Any, score: Any, where: str) -> Any:
    """``detection_score``, or ``score``, its deprecated name, with a warning."""
    if score is None:
        return detection_score
    if detection_score is not None:
        raise TypeError(f"{where}: give detection_score only (score is its deprecated name)")
    warnings.warn(
        f"{where}(score=...) is deprecated and goes in the next release: pass the "
        "same number as detection_score=...",
        DeprecationWarning,
        stacklevel=3,
    )
    return score


def _printable(source: str) -> str:
    """``source`` as text any UTF-8 file takes: the bytes of a file name that are no
    UTF-8 (kept by ``os.fsdecode`` as surrogates) written as ``\\xNN``."""
    return os.fsencode(source).decode("utf-8", "backslashreplace")
