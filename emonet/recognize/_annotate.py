"""Pictures of the results: annotated photos and frames, expressions over time."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from emonet._constants import LABELS
from emonet._io import atomic_path
from emonet._plotting import new_figure, save_figure
from emonet.recognize._result import Face, FrameResult

__all__ = ["LABEL_COLOURS", "annotate", "plot_timeline", "save_image"]

#: One RGB colour per label of :data:`emonet.LABELS` (matplotlib's tab10 order, shuffled
#: so that happy is green and angry red).
LABEL_COLOURS: dict[str, tuple[int, int, int]] = {
    "angry": (214, 39, 40),
    "disgust": (140, 86, 75),
    "fear": (148, 103, 189),
    "happy": (44, 160, 44),
    "sad": (31, 119, 180),
    "surprise": (255, 127, 14),
    "neutral": (127, 127, 127),
}


def annotate(image: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
    """Draw each face's box, label and a bar chart of its 7 probabilities on a photo.

    Parameters
    ----------
    image : (H, W) or (H, W, 3) uint8 ndarray
        The photo, gray or RGB.
    faces : sequence of Face
        Its faces, as :meth:`Recognizer.predict` returns them.

    Returns
    -------
    (H, W, 3) uint8 ndarray
        A new RGB image.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.recognize import Face, annotate
    >>> face = Face.from_probabilities((10, 10, 60, 60), 1.0, np.zeros((68, 2)),
    ...                                np.eye(7)[3])
    >>> annotate(np.zeros((100, 120), np.uint8), [face]).shape
    (100, 120, 3)
    """
    canvas = np.array(image, dtype=np.uint8, copy=True)
    if canvas.ndim == 2:
        canvas = cv2.cvtColor(canvas, cv2.COLOR_GRAY2RGB)
    height, width = canvas.shape[:2]
    for face in faces:
        left, top, right, bottom = face.box
        side = max(right - left, 1)
        thickness = max(1, round(side / 60))
        colour = LABEL_COLOURS.get(face.label, (255, 255, 255))
        cv2.rectangle(canvas, (left, top), (right, bottom), colour, thickness)
        scale = float(np.clip(side / 160, 0.35, 1.2))
        text = f"{face.label} {face.confidence:.0%}"
        (text_w, text_h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        y = top - 4 if top - text_h - base - 4 >= 0 else bottom + text_h + 4
        cv2.rectangle(
            canvas, (left, y - text_h - base), (left + text_w + 4, y + base // 2), colour, -1
        )
        cv2.putText(
            canvas,
            text,
            (left + 2, y - 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        _draw_bars(canvas, face)
    return canvas


def _draw_bars(canvas: np.ndarray, face: Face) -> None:
    """A small panel beside the box: one labelled horizontal bar per label."""
    left, top, right, bottom = face.box
    height, width = canvas.shape[:2]
    row = int(np.clip((bottom - top) // 7, 9, 18))
    scale = row / 28
    name_w = cv2.getTextSize("surprise", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] + 4
    panel_w, panel_h = name_w + 4 * row, 7 * row + 4
    # right of the box if it fits, else left of it, else inside the photo's edge
    x0 = right + 4 if right + 4 + panel_w <= width else left - 4 - panel_w
    x0 = int(np.clip(x0, 0, max(width - panel_w, 0)))
    y0 = int(np.clip(top, 0, max(height - panel_h, 0)))
    # a dark backdrop, so the bars read on any photo
    region = canvas[y0 : y0 + panel_h, x0 : x0 + panel_w]
    region[:] = (region * 0.3 + 15).astype(np.uint8)
    bar_max = panel_w - name_w - 4
    for i, name in enumerate(LABELS):
        y = y0 + 2 + i * row
        cv2.putText(
            canvas,
            name,
            (x0 + 2, y + row - 3),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (235, 235, 235),
            1,
            cv2.LINE_AA,
        )
        length = int(round(face.probabilities[name] * bar_max))
        if length > 0:
            cv2.rectangle(
                canvas,
                (x0 + name_w, y + 2),
                (x0 + name_w + length, y + row - 2),
                LABEL_COLOURS[name],
                -1,
            )


def save_image(image: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write an RGB (or gray) uint8 image to a file (format from its suffix), atomically."""
    path = Path(path)
    bgr = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    try:
        ok, encoded = cv2.imencode(path.suffix or ".png", bgr)
    except cv2.error:
        ok = False
    if not ok:
        raise ValueError(f"{path}: OpenCV cannot write images of type {path.suffix!r}")
    with atomic_path(path, suffix=path.suffix) as tmp:
        tmp.write_bytes(encoded.tobytes())
    return path


def plot_timeline(
    frames: Sequence[FrameResult], path: str | os.PathLike[str], title: str = ""
) -> Path:
    """Plot the expressions of a video over time into a PNG: one line per label.

    Each frame contributes the probabilities of its largest face; frames without a face
    leave a gap.

    Parameters
    ----------
    frames : sequence of FrameResult
        As :meth:`Recognizer.predict_video` yields them (images not needed).
    path : str or path-like
        The PNG to write.
    title : str, optional

    Returns
    -------
    pathlib.Path
    """
    times = np.array(
        [f.time_s if np.isfinite(f.time_s) else f.index for f in frames], dtype=np.float64
    )
    values = np.full((len(frames), len(LABELS)), np.nan)
    for row, frame in enumerate(frames):
        if frame.faces:
            values[row] = [frame.faces[0].probabilities[name] for name in LABELS]
    finite = all(np.isfinite(f.time_s) for f in frames)
    figure = new_figure((10, 4), dpi=100)
    axis = figure.add_subplot()
    for column, name in enumerate(LABELS):
        axis.plot(
            times,
            values[:, column],
            color=np.array(LABEL_COLOURS[name]) / 255,
            label=name,
            lw=1.5,
        )
    axis.set_ylim(0, 1)
    axis.set_xlabel("time (s)" if finite else "frame")
    axis.set_ylabel("probability (largest face)")
    axis.set_title(title or "expressions over time")
    axis.legend(ncols=7, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    axis.grid(alpha=0.3)
    return save_figure(figure, path)
