"""One result format everywhere: a recognised face, as a dict (JSON) or a flat row (CSV)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emonet._constants import LABELS

#: Columns of :meth:`Face.to_row`, in order: where the face was, then its expression.
ROW_COLUMNS: tuple[str, ...] = (
    "source",
    "frame",
    "time_s",
    "face",
    "left",
    "top",
    "right",
    "bottom",
    "score",
    "label",
    "confidence",
    *LABELS,
)


@dataclass(frozen=True)
class Face:
    """A face found in a photo or a video frame, and its expression.

    Attributes
    ----------
    box : tuple of 4 int
        ``(left, top, right, bottom)`` in the photo's pixels.
    score : float
        The detector's score (SVM margin of dlib's HOG detector, confidence of its CNN).
    landmarks : (68, 2) ndarray of float32
        dlib's 68 points, ``(x, y)`` in the photo's pixels.
    probabilities : dict of str to float
        One probability per label of :data:`emonet.LABELS`, in that order; they sum to 1.
    label : str
        The most probable label.
    confidence : float
        Its probability.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.recognize import Face
    >>> face = Face.from_probabilities((10, 20, 60, 70), 1.2, np.zeros((68, 2)),
    ...                                [0.1, 0, 0, 0.7, 0.1, 0, 0.1])
    >>> face.label, face.confidence
    ('happy', 0.7)
    >>> face.to_row(source="a.jpg")["happy"]
    0.7
    """

    box: tuple[int, int, int, int]
    score: float
    landmarks: np.ndarray = field(repr=False)
    probabilities: dict[str, float]
    label: str
    confidence: float

    @classmethod
    def from_probabilities(cls, box, score: float, landmarks: np.ndarray, probabilities) -> Face:
        """Build a face from its box, score, landmarks and probability vector."""
        values = np.asarray(probabilities, dtype=np.float64).ravel()
        if values.shape != (len(LABELS),):
            raise ValueError(f"expected {len(LABELS)} probabilities, got {values.shape}")
        best = int(np.argmax(values))
        return cls(
            box=tuple(int(v) for v in box),
            score=float(score),
            landmarks=np.asarray(landmarks, dtype=np.float32).reshape(-1, 2),
            probabilities={name: float(v) for name, v in zip(LABELS, values, strict=True)},
            label=LABELS[best],
            confidence=float(values[best]),
        )

    def to_dict(self) -> dict[str, Any]:
        """The face as a JSON-compatible dict (``box``, ``score``, ``landmarks``, ...)."""
        return {
            "box": list(self.box),
            "score": round(self.score, 4),
            "label": self.label,
            "confidence": round(self.confidence, 6),
            "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
            "landmarks": np.round(self.landmarks, 2).tolist(),
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
        return {
            "source": source,
            "frame": "" if frame is None else int(frame),
            "time_s": "" if time_s is None else round(float(time_s), 4),
            "face": int(face),
            "left": left,
            "top": top,
            "right": right,
            "bottom": bottom,
            "score": round(self.score, 4),
            "label": self.label,
            "confidence": round(self.confidence, 6),
            **{k: round(v, 6) for k, v in self.probabilities.items()},
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
