"""Videos frame by frame: reading files, following faces between detections, tracks and
smoothing (:mod:`emonet.tracking`), as :class:`FrameResult` objects."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from emonet._constants import FACE_SIZE, LABELS
from emonet.features import face_descriptors, template_transform, warp_face
from emonet.recognize._photos import read_photo, to_gray
from emonet.recognize._result import Face, FrameResult
from emonet.tracking import (
    DEFAULT_CUT_THRESHOLD,
    FaceTracker,
    TrackSmoother,
    frame_signature,
    is_scene_cut,
)

__all__ = ["TrackingOptions", "video_info"]

#: Frames per second assumed where a source tells none (frames given without times).
DEFAULT_FPS = 30.0

#: (index, time in seconds, RGB or gray uint8 frame)
Frame = tuple[int, float, np.ndarray]


@dataclass(frozen=True)
class TrackingOptions:
    """How faces are followed through a video; see :meth:`Recognizer.predict_video`."""

    track: bool = True
    detect_every: int = 1
    smoothing: float | None = 1.0
    keep_lost: float = 10.0
    reid_threshold: float = 0.5
    hysteresis: float = 0.1
    cut_threshold: float = DEFAULT_CUT_THRESHOLD

    def __post_init__(self) -> None:
        positive_integer(self.detect_every, "detect_every")
        if self.detect_every > 1 and not self.track:
            raise ValueError(
                f"detect_every={self.detect_every} follows faces between detections, which "
                "needs tracking: drop track=False, or detect on every frame"
            )
        if self.smoothing is not None:
            _seconds(self.smoothing, "smoothing")
        _seconds(self.keep_lost, "keep_lost")
        _seconds(self.reid_threshold, "reid_threshold")


def positive_integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


# ---------------------------------------------------------------------- files


def video_info(path: Any) -> dict[str, float]:
    """Frame rate, frame count and size of a video, as OpenCV reports them.

    Raises
    ------
    ValueError
        If the file cannot be opened as a video.
    FileNotFoundError, IsADirectoryError
        If ``path`` names no file, or a folder.
    """
    capture = open_video(path)
    try:
        return {
            "fps": float(capture.get(cv2.CAP_PROP_FPS) or 0.0),
            "frames": int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
            "width": int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            "height": int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        }
    finally:
        capture.release()


def video_path(path: Any) -> Path:
    """A video's path, checked to be a file."""
    path = Path(os.fsdecode(path))
    if path.is_dir():
        raise IsADirectoryError(
            f"{path}: a folder, not a video file; pass each video (emonet-predict reads folders)"
        )
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such video file")
    return path


def open_video(path: Any) -> cv2.VideoCapture:
    path = video_path(path)
    try:
        name = str(path).encode("utf-8").decode("utf-8")
    except UnicodeEncodeError:
        # os.fsdecode kept the name's odd bytes as surrogates, on which OpenCV crashes
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        raise ValueError(
            f"{shown}: OpenCV cannot open a file whose name is not UTF-8; rename the file"
        ) from None
    capture = cv2.VideoCapture(name)
    if not capture.isOpened():
        capture.release()
        raise ValueError(f"{path}: cannot be opened as a video")
    return capture


def file_frames(capture: cv2.VideoCapture, every: int) -> Iterator[Frame]:
    """The frames of an opened video file, every ``every``-th, with their times
    (index / frame rate; :data:`DEFAULT_FPS` when the file tells none). The capture is
    released when the iterator ends or is closed."""
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    try:
        index = 0
        # grab() advances without decoding; only the frames kept are retrieved
        while capture.grab():
            if index % every == 0:
                ok, frame = capture.retrieve()
                if ok:
                    time_s = index / fps if fps > 0 else float("nan")
                    yield index, time_s, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()


# ---------------------------------------------------------------------- pipeline


class FramePipeline:
    """Faces of frames given one after the other: detection (every ``detect_every``-th
    frame, faces followed by their landmarks in between), tracks, smoothing."""

    def __init__(self, recognizer: Any, options: TrackingOptions) -> None:
        self.recognizer = recognizer
        self.options = options
        self.tracker = (
            FaceTracker(keep_lost=options.keep_lost, reid_threshold=options.reid_threshold)
            if options.track
            else None
        )
        self.smoother = TrackSmoother(options.smoothing, options.hysteresis)
        self.frames_seen = 0
        self.detections = 0
        self._since_detection = 0
        self._signature: np.ndarray | None = None
        # per track followed: its face's patch, box, landmarks and crop transform
        self._faces: dict[int, _Followed] = {}

    def run(
        self, frames: Iterable[Frame], batch_frames: int, keep_images: bool
    ) -> Iterator[FrameResult]:
        """FrameResults of ``frames``, their faces read by the networks ``batch_frames``
        frames at a time."""
        chunk: list[tuple[Frame, tuple]] = []
        for frame in frames:
            chunk.append((frame, self._locate(frame)))
            if len(chunk) >= batch_frames:
                yield from self._finish(chunk, keep_images)
                chunk = []
        if chunk:
            yield from self._finish(chunk, keep_images)

    # -- per frame: where the faces are, and whose

    def _locate(self, frame: Frame) -> tuple:
        index, time_s, image = frame
        image = read_photo(image)
        clock = time_s if math.isfinite(time_s) else index / DEFAULT_FPS
        self.frames_seen += 1
        if self.tracker is None:
            self.detections += 1
            boxes, scores, landmarks, crops = self.recognizer._detect_image(image)
            return boxes, scores, landmarks, crops, [None] * len(boxes), clock
        signature = frame_signature(image)
        cut = is_scene_cut(self._signature, signature, self.options.cut_threshold)
        self._signature = signature
        following = [t for t in self.tracker.current() if t in self._faces]
        detect = cut or not following or self._since_detection + 1 >= self.options.detect_every
        if not detect:
            found = self._follow(image, clock, following)
            if found is not None:
                self._since_detection += 1
                return (*found, clock)
        self._since_detection = 0
        self.detections += 1
        boxes, scores, landmarks, crops = self.recognizer._detect_image(image)
        ids = self.tracker.update(
            clock,
            boxes,
            lambda which: face_descriptors(image, landmarks[list(which)]),
            cut=cut,
        )
        gray = to_gray(image)
        self._faces = {}
        if self.options.detect_every > 1:
            for track_id, box, points in zip(ids, boxes, landmarks, strict=True):
                transform, _ = template_transform(points, box)
                followed = _Followed.of(gray, box, points, transform)
                if followed is not None:
                    self._faces[int(track_id)] = followed
        return boxes, scores, landmarks, crops, [int(i) for i in ids], clock

    def _follow(self, image: np.ndarray, clock: float, following: list[int]):
        """The faces of tracks followed into this frame, or None when none can be
        (detect then): each face's patch of the frame before is looked for around where
        its track's motion puts it (normalised cross-correlation, at about 40 px), and its
        landmarks and crop moved with it. A face not found (turned away, hidden) is not
        followed further."""
        gray = to_gray(image)
        ids, boxes, landmarks, crops = [], [], [], []
        for track_id in following:
            followed = self._faces[track_id]
            guess = self.tracker.tracks_[track_id].predicted_box(clock, 0.5)
            moved = followed.find(gray, guess)
            if moved is None:
                del self._faces[track_id]
                continue
            ids.append(track_id)
            boxes.append(moved.box)
            landmarks.append(moved.points)
            crops.append(warp_face(gray, moved.transform, FACE_SIZE))
            self._faces[track_id] = moved
        if not ids:
            return None
        boxes_array = np.round(np.array(boxes)).astype(np.int64).reshape(-1, 4)
        self.tracker.follow(clock, ids, boxes_array)
        scores = np.full(len(ids), np.nan, np.float32)
        return boxes_array, scores, np.array(landmarks, np.float32), np.stack(crops), ids

    # -- per chunk: the networks, then smoothing in frame order

    def _finish(self, chunk: list, keep_images: bool) -> Iterator[FrameResult]:
        crops = [found[3] for _, found in chunk]
        probabilities = self.recognizer.predict_crops(
            np.concatenate(crops) if crops else np.empty((0, FACE_SIZE, FACE_SIZE), np.uint8)
        )
        start = 0
        for (index, time_s, image), (boxes, scores, landmarks, _, ids, clock) in chunk:
            faces = []
            for box, score, points, track_id, row in zip(
                boxes,
                scores,
                landmarks,
                ids,
                probabilities[start : start + len(boxes)],
                strict=True,
            ):
                if track_id is None:
                    faces.append(Face.from_probabilities(box, score, points, row))
                    continue
                smoothed, label = self.smoother.update(track_id, clock, row)
                faces.append(
                    Face.from_probabilities(
                        box,
                        score,
                        points,
                        row,
                        track_id=track_id,
                        smoothed=smoothed,
                        smoothed_label=LABELS[label],
                    )
                )
            start += len(boxes)
            yield FrameResult(
                index=index, time_s=time_s, faces=faces, image=image if keep_images else None
            )
        if self.tracker is not None:
            self.smoother.forget(self.tracker.tracks_)


#: Side, in pixels, at which a followed face is looked for; and the least normalised
#: cross-correlation at which it counts as found.
_MATCH_SIDE = 40
_MIN_MATCH = 0.6


@dataclass(frozen=True)
class _Followed:
    """A face followed between detections: its patch (at about :data:`_MATCH_SIDE` px),
    box, landmarks and crop transform, in the frame it was last seen in."""

    patch: np.ndarray
    origin: np.ndarray  # the frame pixel of the patch's top-left corner
    scale: float
    box: np.ndarray
    points: np.ndarray
    transform: np.ndarray

    @classmethod
    def of(cls, gray, box, points, transform) -> _Followed | None:
        box = np.asarray(box, np.float64)
        side = max(box[2] - box[0], box[3] - box[1])
        scale = min(1.0, _MATCH_SIDE / max(side, 1.0))
        patch = _cut(gray, box, scale)
        if patch is None or min(patch.shape) < 8:
            return None
        origin = np.maximum(np.round(box[:2]), 0)
        return cls(
            patch, origin, scale, box, np.asarray(points, np.float64), np.asarray(transform)
        )

    def find(self, gray: np.ndarray, guess: np.ndarray) -> _Followed | None:
        """The face in ``gray``, looked for around the box ``guess``; None if not found."""
        side = self.box[2] - self.box[0]
        margin = 0.5 * side
        region = np.array(
            [guess[0] - margin, guess[1] - margin, guess[2] + margin, guess[3] + margin]
        )
        height, width = gray.shape[:2]
        region = np.clip(np.round(region), 0, [width, height, width, height]).astype(int)
        area = _cut(gray, region, self.scale)
        if (
            area is None
            or area.shape[0] < self.patch.shape[0]
            or area.shape[1] < self.patch.shape[1]
        ):
            return None
        scores = cv2.matchTemplate(area, self.patch, cv2.TM_CCOEFF_NORMED)
        _, best, _, (x, y) = cv2.minMaxLoc(scores)
        if not best >= _MIN_MATCH:
            return None
        left, top = region[0] + x / self.scale, region[1] + y / self.scale
        shift = np.array([left, top]) - self.origin
        box = self.box + np.concatenate([shift, shift])
        transform = self.transform.copy()
        transform[:, 2] -= transform[:, :2] @ shift  # the crop moves with the face
        moved = _Followed.of(gray, box, self.points + shift, transform)
        return moved


def _cut(gray: np.ndarray, box, scale: float) -> np.ndarray | None:
    """The part of ``gray`` inside ``box``, resized by ``scale``."""
    height, width = gray.shape[:2]
    left, top = max(int(round(box[0])), 0), max(int(round(box[1])), 0)
    right, bottom = min(int(round(box[2])), width), min(int(round(box[3])), height)
    if right - left < 4 or bottom - top < 4:
        return None
    part = gray[top:bottom, left:right]
    if scale >= 1.0:
        return np.ascontiguousarray(part)
    size = (max(1, round(part.shape[1] * scale)), max(1, round(part.shape[0] * scale)))
    return cv2.resize(part, size, interpolation=cv2.INTER_AREA)
