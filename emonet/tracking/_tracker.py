"""The tracker's state machine: who each face of a frame is, from box overlap and, when
overlap cannot tell or a person was lost, from face descriptors."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from emonet.tracking._association import assign, box_iou

__all__ = ["FaceTracker", "Track"]

#: describe(indices) -> (len(indices), 128) descriptors of this frame's faces.
Describe = Callable[[Sequence[int]], np.ndarray]


@dataclass
class Track:
    """One person followed through a video.

    Attributes
    ----------
    track_id : int
        From 1, never reused in a video.
    box : (4,) ndarray of float64
        The last box seen, ``(left, top, right, bottom)``.
    first_seen, last_seen : float
        Seconds.
    velocity : (2,) ndarray of float64
        Motion of the box's centre, pixels per second.
    gallery : list of ndarray
        Face descriptors of the person (the first, then the latest few).
    described_at : float
        When the latest descriptor was added.
    hits : int
        Frames the track was seen in.
    verified_at : float
        When descriptors last settled an ambiguous overlap of the track.
    """

    track_id: int
    box: np.ndarray
    first_seen: float
    last_seen: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    gallery: list[np.ndarray] = field(default_factory=list)
    described_at: float = -math.inf
    hits: int = 1
    verified_at: float = -math.inf

    def predicted_box(self, time_s: float, horizon: float) -> np.ndarray:
        """The box moved on by the track's velocity to ``time_s`` (at most ``horizon``
        seconds ahead)."""
        dt = float(np.clip(time_s - self.last_seen, 0.0, horizon))
        shift = self.velocity * dt
        return self.box + np.array([shift[0], shift[1], shift[0], shift[1]])

    def distance(self, descriptor: np.ndarray) -> float:
        """Least distance of ``descriptor`` to the gallery's (inf when empty)."""
        if not self.gallery:
            return math.inf
        return float(np.min(np.linalg.norm(np.stack(self.gallery) - descriptor, axis=1)))


class FaceTracker:
    """Give the faces of each frame the id of the person they are.

    Each call of :meth:`update` takes a frame's detected boxes. Tracks seen within
    ``iou_gap`` seconds are matched to them by box overlap, the box moved on by the
    track's motion (a Hungarian assignment on ``1 - IoU``); where a box overlaps two
    tracks about as much (within ``ambiguity`` of IoU), or a track two boxes, dlib's face
    descriptors decide. A box left over is
    compared by descriptor with every other track kept (lost for at most ``keep_lost``
    seconds): the nearest within ``reid_threshold`` gets its id back, else it starts a
    new track. After a scene cut (``cut=True``) boxes say nothing: every face is matched
    by descriptor. Between detections, :meth:`follow` moves tracks to boxes followed by
    other means.

    Descriptors are asked of ``describe`` only when needed (a new or ambiguous box, and
    one per track every ``describe_every`` seconds), as they cost more than detection.

    Parameters
    ----------
    keep_lost : float, default=10.0
        Seconds a track unseen is kept for re-identification.
    reid_threshold : float, default=0.5
        Largest descriptor distance between two faces of one person (dlib's faces of one
        person mostly lie within 0.6, of two people beyond it).
    min_iou : float, default=0.3
        Least overlap of a box with a track's predicted box to match by overlap.
    iou_gap : float, default=1.0
        Seconds a track may go unseen and still be matched by overlap.
    describe_every : float, default=10.0
        Seconds between the descriptors added to a matched track's gallery.
    ambiguity : float, default=0.2
        Overlaps closer than this (IoU) are too close to call by boxes alone.
    verify_every : float, default=0.5
        Seconds before descriptors settle another ambiguity of the same track.
    gallery_size : int, default=8
        Descriptors kept per track: the first and the latest.

    Attributes
    ----------
    tracks_ : dict of int to Track
        The tracks kept, by id.
    descriptors_computed_ : int
        Faces described so far (the costly part).

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.tracking import FaceTracker
    >>> tracker = FaceTracker()
    >>> tracker.update(0.0, [[0, 0, 50, 50], [100, 0, 150, 50]]).tolist()
    [1, 2]
    >>> tracker.update(0.04, [[102, 1, 152, 51], [2, 0, 52, 50]]).tolist()
    [2, 1]
    """

    def __init__(
        self,
        *,
        keep_lost: float = 10.0,
        reid_threshold: float = 0.5,
        min_iou: float = 0.3,
        iou_gap: float = 1.0,
        describe_every: float = 10.0,
        gallery_size: int = 8,
        ambiguity: float = 0.2,
        verify_every: float = 0.5,
    ) -> None:
        for name, value in (
            ("keep_lost", keep_lost),
            ("reid_threshold", reid_threshold),
            ("iou_gap", iou_gap),
            ("describe_every", describe_every),
        ):
            if not isinstance(value, int | float) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        if not 0 < min_iou <= 1:
            raise ValueError(f"min_iou must be in (0, 1], got {min_iou!r}")
        if gallery_size < 1:
            raise ValueError(f"gallery_size must be at least 1, got {gallery_size!r}")
        self.keep_lost = float(keep_lost)
        self.reid_threshold = float(reid_threshold)
        self.min_iou = float(min_iou)
        self.iou_gap = float(iou_gap)
        self.describe_every = float(describe_every)
        self.gallery_size = int(gallery_size)
        self.ambiguity = float(ambiguity)
        self.verify_every = float(verify_every)
        self.tracks_: dict[int, Track] = {}
        self.descriptors_computed_ = 0
        self._next_id = 1
        self._time = -math.inf

    # ------------------------------------------------------------------ public

    def update(
        self,
        time_s: float,
        boxes: np.ndarray,
        describe: Describe | None = None,
        *,
        cut: bool = False,
    ) -> np.ndarray:
        """Match a frame's detected boxes to tracks.

        Parameters
        ----------
        time_s : float
            The frame's time in seconds (not before the previous frame's).
        boxes : (K, 4) array_like
            The faces' boxes ``(left, top, right, bottom)``.
        describe : callable, optional
            ``describe(indices)`` gives the ``(len(indices), 128)`` descriptors of those
            faces (:func:`emonet.features.face_descriptors`); without it, overlap alone.
        cut : bool, default=False
            The frame starts a new scene (:func:`is_scene_cut`): no match by overlap.

        Returns
        -------
        (K,) ndarray of int64
            The track id of each box.
        """
        time_s = float(time_s)
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        self._forget(time_s)
        cache: dict[int, np.ndarray] = {}

        def descriptors(indices) -> np.ndarray:
            missing = [int(i) for i in indices if int(i) not in cache]
            if missing:
                found = np.asarray(describe(missing), np.float64).reshape(len(missing), -1)
                self.descriptors_computed_ += len(missing)
                cache.update(zip(missing, found, strict=True))
            return np.stack([cache[int(i)] for i in indices])

        ids = np.full(len(boxes), -1, np.int64)
        matched: set[int] = set()
        recent = (
            []
            if cut
            else [t for t in self.tracks_.values() if time_s - t.last_seen <= self.iou_gap]
        )
        if recent and len(boxes):
            predicted = np.stack([t.predicted_box(time_s, self.iou_gap / 2) for t in recent])
            iou = box_iou(predicted, boxes)
            overlaps = iou >= self.min_iou
            cost = np.where(overlaps, 1.0 - iou, np.inf)
            ambiguous = _close(iou, overlaps, 0, self.ambiguity) | _close(
                iou, overlaps, 1, self.ambiguity
            )
            # appearance settles an ambiguity; asked again for a track only after
            # verify_every seconds, as continuity keeps the answer meanwhile
            stale = np.array([time_s - t.verified_at >= self.verify_every for t in recent])
            ambiguous &= stale[:, None]
            if describe is not None and ambiguous.any():
                columns = np.flatnonzero(ambiguous.any(axis=0))
                for row in np.flatnonzero(ambiguous.any(axis=1)):
                    recent[row].verified_at = time_s
                for column, vector in zip(columns, descriptors(columns), strict=True):
                    for row in np.flatnonzero(ambiguous[:, column]):
                        distance = recent[row].distance(vector)
                        if math.isfinite(distance):
                            cost[row, column] = (
                                cost[row, column] + distance
                                if distance <= self.reid_threshold
                                else np.inf
                            )
            pairs, _, _ = assign(cost, math.inf)
            for row, column in pairs:
                track = recent[row]
                self._move(track, boxes[column], time_s)
                ids[column] = track.track_id
                matched.add(track.track_id)
        left = np.flatnonzero(ids < 0)
        if len(left) and describe is not None:
            vectors = descriptors(left)
            candidates = [
                t for t in self.tracks_.values() if t.track_id not in matched and t.gallery
            ]
            if candidates:
                distances = np.array([[t.distance(v) for v in vectors] for t in candidates])
                pairs, _, _ = assign(distances, self.reid_threshold)
                for row, column in pairs:
                    track = candidates[row]
                    track.box = boxes[left[column]].copy()
                    track.velocity = np.zeros(2)
                    track.last_seen = time_s
                    track.hits += 1
                    ids[left[column]] = track.track_id
                    matched.add(track.track_id)
        for index in np.flatnonzero(ids < 0):
            track = Track(self._next_id, boxes[index].copy(), time_s, time_s)
            self._next_id += 1
            self.tracks_[track.track_id] = track
            ids[index] = track.track_id
        if describe is not None:
            for index, track_id in enumerate(ids):
                track = self.tracks_[int(track_id)]
                if time_s - track.described_at >= self.describe_every or index in cache:
                    self._add_descriptor(track, descriptors([index])[0], time_s)
        self._time = time_s
        return ids

    def follow(self, time_s: float, track_ids: Sequence[int], boxes: np.ndarray) -> None:
        """Move tracks to boxes followed between detections (not detected).

        Parameters
        ----------
        time_s : float
        track_ids : sequence of int
            Ids of tracks kept (:attr:`tracks_`).
        boxes : (K, 4) array_like
            Their boxes in this frame.
        """
        time_s = float(time_s)
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        for track_id, box in zip(track_ids, boxes, strict=True):
            self._move(self.tracks_[int(track_id)], box, time_s)
        self._time = time_s

    def current(self) -> list[int]:
        """Ids of the tracks seen in the latest frame, by id."""
        return sorted(t.track_id for t in self.tracks_.values() if t.last_seen == self._time)

    # ------------------------------------------------------------------ private

    def _move(self, track: Track, box: np.ndarray, time_s: float) -> None:
        dt = time_s - track.last_seen
        if dt > 0:
            centre_old = (track.box[:2] + track.box[2:]) / 2
            centre_new = (box[:2] + box[2:]) / 2
            step = (centre_new - centre_old) / dt
            track.velocity = step if track.hits == 1 else 0.5 * track.velocity + 0.5 * step
        track.box = np.asarray(box, np.float64).copy()
        track.last_seen = time_s
        track.hits += 1

    def _add_descriptor(self, track: Track, vector: np.ndarray, time_s: float) -> None:
        track.gallery.append(np.asarray(vector, np.float64))
        if len(track.gallery) > self.gallery_size:
            del track.gallery[1]  # the first stays: who the person was when first seen
        track.described_at = time_s

    def _forget(self, time_s: float) -> None:
        for track_id in [
            t.track_id for t in self.tracks_.values() if time_s - t.last_seen > self.keep_lost
        ]:
            del self.tracks_[track_id]


def _close(iou: np.ndarray, overlaps: np.ndarray, axis: int, margin: float) -> np.ndarray:
    """Pairs whose overlap is within ``margin`` of the best along ``axis``, where at least
    two pairs along it overlap: the pairs boxes alone cannot decide."""
    masked = np.where(overlaps, iou, -np.inf)
    best = masked.max(axis=axis, keepdims=True)
    crowded = overlaps.sum(axis=axis, keepdims=True) > 1
    return overlaps & crowded & (masked >= best - margin)
