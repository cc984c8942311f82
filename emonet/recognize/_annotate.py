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

    A tracked face (of a video) shows its track id and its smoothed label and
    probabilities: ``#2 happy 81%``.

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
        label, confidence = face.label, face.confidence
        if face.track_id is not None and face.smoothed_label is not None:
            label, confidence = face.smoothed_label, face.smoothed_confidence
        colour = LABEL_COLOURS.get(label, (255, 255, 255))
        cv2.rectangle(canvas, (left, top), (right, bottom), colour, thickness)
        scale = float(np.clip(side / 160, 0.35, 1.2))
        text = f"{label} {confidence:.0%}"
        if face.track_id is not None:
            text = f"#{face.track_id} {text}"
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
        values = face.smoothed_probabilities or face.probabilities
        length = int(round(values[name] * bar_max))
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
    """Plot the expressions of a video over time into a PNG.

    Tracked faces (:meth:`Recognizer.predict_video`'s default) give one row per person:
    a band coloured by the track's smoothed label (:data:`LABEL_COLOURS`) where the
    person is seen, and the smoothed probability of that label as a line. Untracked
    ones give one line per label, of the largest face of each frame; frames without a
    face leave a gap.

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
    if any(face.track_id is not None for frame in frames for face in frame.faces):
        return _plot_tracks(frames, path, title)
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


def _plot_tracks(frames: Sequence[FrameResult], path, title: str) -> Path:
    """:func:`plot_timeline` of tracked faces: one row per person."""
    finite = all(np.isfinite(f.time_s) for f in frames)
    times = [f.time_s if finite else float(f.index) for f in frames]
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    tracks: dict[int, list[tuple[float, str, float]]] = {}
    for time_s, frame in zip(times, frames, strict=True):
        for face in frame.faces:
            if face.track_id is not None:
                tracks.setdefault(face.track_id, []).append(
                    (time_s, face.smoothed_label, face.smoothed_confidence)
                )
    ids = sorted(tracks)
    figure = new_figure((10, 1.6 + 0.5 * len(ids)), dpi=100)
    axis = figure.add_subplot()
    for row, track_id in enumerate(ids):
        seen = tracks[track_id]
        for (start, label, _), (stop, _, _) in zip(
            seen, [*seen[1:], (None, None, None)], strict=True
        ):
            end = start + step if stop is None or stop - start > 2.5 * step else stop
            axis.broken_barh(
                [(start, end - start)],
                (row - 0.4, 0.8),
                color=np.array(LABEL_COLOURS[label]) / 255,
                lw=0,
            )
        line_t, line_y = [], []
        for (time_s, _, confidence), previous in zip(seen, [None, *seen[:-1]], strict=True):
            if previous is not None and time_s - previous[0] > 2.5 * step:
                line_t.append(np.nan)  # a gap where the person was not seen
                line_y.append(np.nan)
            line_t.append(time_s)
            line_y.append(row + 0.4 - 0.8 * confidence)
        axis.plot(
            line_t,
            line_y,
            color="black",
            lw=0.8,
            alpha=0.6,
        )
    axis.set_yticks(range(len(ids)), [f"#{track_id}" for track_id in ids])
    axis.set_ylim(-0.6, len(ids) - 0.4)
    axis.invert_yaxis()
    axis.set_xlabel("time (s)" if finite else "frame")
    axis.set_title(title or "expressions over time, one row per person")
    handles = [
        axis.bar(0, 0, color=np.array(LABEL_COLOURS[name]) / 255, label=name) for name in LABELS
    ]
    figure.legend(handles=handles, ncols=7, fontsize=8, loc="outside lower center")
    axis.grid(alpha=0.3, axis="x")
    return save_figure(figure, path)
