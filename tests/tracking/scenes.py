"""Synthetic videos of real faces with ground-truth ids, for the tracking tests and
``bench/tracking.py``.

Faces: scikit-image's astronaut and FER2013 crops upscaled (48 -> ``face`` px), pasted
on a smooth background and moved along paths. Each clip is a list of people (a face and
a path) and yields frames with the ground truth: ``(person id, box)`` of each face that
shows (a face turned away, or away, is not in it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from emonet.features import detect_faces

FER_ROOT = Path(__file__).resolve().parents[3] / "shared" / "data" / "fer2013"


@dataclass
class Person:
    """A face and where it is: ``path(t)`` gives its centre ``(x, y)`` or None (away);
    ``turned(t)`` says it is turned away (drawn upside down and dark: no face seen)."""

    person_id: int
    sprite: np.ndarray  # RGB uint8
    face_box: tuple[int, int, int, int]  # the face in the sprite, as the detector boxes it
    path: Callable[[float], tuple[float, float] | None]
    turned: Callable[[float], bool] = field(default=lambda t: False)


def background(width: int, height: int, flip: bool = False) -> np.ndarray:
    x = np.linspace(0, 1, width)[None, :]
    y = np.linspace(0, 1, height)[:, None]
    base = 60 + 80 * x + 40 * y if not flip else 230 - 60 * x - 40 * y
    rgb = np.stack([base, base * 0.95 + 5, base * 0.9 + 10], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _face_box(sprite: np.ndarray) -> tuple[int, int, int, int] | None:
    """The detector's box of the sprite's face, on a plain backdrop (None: not found)."""
    pad = sprite.shape[0] // 2
    canvas = np.full((sprite.shape[0] + 2 * pad, sprite.shape[1] + 2 * pad, 3), 100, np.uint8)
    canvas[pad : pad + sprite.shape[0], pad : pad + sprite.shape[1]] = sprite
    boxes = detect_faces(cv2.cvtColor(canvas, cv2.COLOR_RGB2GRAY), upsample=0)
    if len(boxes) != 1:
        return None
    left, top, right, bottom = boxes[0] - pad
    return int(left), int(top), int(right), int(bottom)


def astronaut_sprite(face: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The astronaut's head, scaled so that her face is about ``face`` px."""
    crop = data.astronaut()[50:210, 140:300]  # her face is (179, 83, 266, 170)
    side = int(round(160 * face / 87))
    sprite = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
    return sprite, _face_box(sprite)


def fer_sprites(face: int, count: int, labels=("happy", "neutral", "surprise", "sad")):
    """``count`` FER2013 validation faces, upscaled to ``face * 1.3`` px, that the
    detector finds, with their face boxes; one label after the other."""
    side = int(round(face * 1.3))
    found = []
    files = [sorted((FER_ROOT / "val" / label).glob("*.jpg"))[:40] for label in labels]
    for row in zip(*files, strict=False):
        for path in row:
            gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            sprite = cv2.cvtColor(
                cv2.resize(gray, (side, side), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2RGB
            )
            box = _face_box(sprite)
            if box is not None:
                found.append((sprite, box))
            if len(found) == count:
                return found
    return found


def render(
    people: list[Person], t: float, size: tuple[int, int], backdrop: np.ndarray
) -> tuple[np.ndarray, list[tuple[int, tuple[int, int, int, int]]]]:
    """One frame at ``t`` seconds, and its ground truth."""
    width, height = size
    frame = backdrop.copy()
    truth = []
    for person in people:
        centre = person.path(t)
        if centre is None:
            continue
        sprite = person.sprite
        turned = person.turned(t)
        if turned:
            sprite = (sprite[::-1] * 0.5).astype(np.uint8)
        h, w = sprite.shape[:2]
        x0, y0 = int(round(centre[0] - w / 2)), int(round(centre[1] - h / 2))
        fx0, fy0 = max(x0, 0), max(y0, 0)
        fx1, fy1 = min(x0 + w, width), min(y0 + h, height)
        if fx1 <= fx0 or fy1 <= fy0:
            continue
        frame[fy0:fy1, fx0:fx1] = sprite[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
        if not turned:
            left, top, right, bottom = person.face_box
            truth.append((person.person_id, (x0 + left, y0 + top, x0 + right, y0 + bottom)))
    # a face drawn over another hides it: drop ground truth mostly covered
    visible = []
    for i, (pid, box) in enumerate(truth):
        hidden = any(_covered(box, other) > 0.5 for _, other in truth[i + 1 :])
        if not hidden:
            visible.append((pid, box))
    return frame, visible


def _covered(box, other) -> float:
    left, top = max(box[0], other[0]), max(box[1], other[1])
    right, bottom = min(box[2], other[2]), min(box[3], other[3])
    inter = max(right - left, 0) * max(bottom - top, 0)
    return inter / max((box[2] - box[0]) * (box[3] - box[1]), 1)


@dataclass
class Clip:
    name: str
    duration: float
    people: list[Person]
    size: tuple[int, int]
    cut_at: float | None = None  # a scene cut: the backdrop changes here
    after_cut: list[Person] | None = None

    def frames(self, fps: float) -> Iterator[tuple[float, np.ndarray, list]]:
        first = background(*self.size)
        second = background(*self.size, flip=True)
        for index in range(int(round(self.duration * fps))):
            t = index / fps
            if self.cut_at is not None and t >= self.cut_at:
                frame, truth = render(self.after_cut, t, self.size, second)
            else:
                frame, truth = render(self.people, t, self.size, first)
            yield t, frame, truth


def _line(start, stop, t0, t1):
    def path(t):
        if t < t0 or t > t1:
            return None
        a = (t - t0) / (t1 - t0)
        return (start[0] + a * (stop[0] - start[0]), start[1] + a * (stop[1] - start[1]))

    return path


def clips(size=(640, 480), face=100) -> dict[str, Clip]:
    """The four clips of the benchmark: crossing, leave_return, turning, scene_cut."""
    width, height = size
    sprites = [astronaut_sprite(face), *fer_sprites(face, 3)]
    if len(sprites) < 4:
        raise RuntimeError("too few FER2013 faces found by the detector")
    (a, abox), (b, bbox), (c, cbox), (d, dbox) = sprites
    margin = a.shape[1] / 2 + 5
    y = height / 2
    crossing = Clip(
        "crossing",
        4.0,
        [
            Person(1, a, abox, _line((margin, y - 20), (width - margin, y + 20), 0, 4.0)),
            Person(2, b, bbox, _line((width - margin, y + 20), (margin, y - 20), 0, 4.0)),
        ],
        size,
    )
    leave_return = Clip(
        "leave_return",
        6.0,
        [
            Person(1, a, abox, _line((width * 0.3, y), (width * 0.35, y), 0, 6.0)),
            Person(
                2,
                c,
                cbox,
                lambda t: None if 1.5 <= t < 3.5 else (width * 0.72 + (10 if t >= 3.5 else 0), y),
            ),
        ],
        size,
    )
    turning = Clip(
        "turning",
        4.0,
        [
            Person(
                1,
                d,
                dbox,
                _line((width * 0.3, y), (width * 0.6, y), 0, 4.0),
                turned=lambda t: 1.5 <= t < 2.3,
            ),
            Person(2, b, bbox, _line((width * 0.8, y - 60), (width * 0.8, y + 60), 0, 4.0)),
        ],
        size,
    )
    left, right = (width * 0.28, y), (width * 0.72, y)
    scene_cut = Clip(
        "scene_cut",
        4.0,
        [
            Person(1, a, abox, lambda t: left),
            Person(2, c, cbox, lambda t: right),
        ],
        size,
        cut_at=2.0,
        after_cut=[
            # the same people, places swapped: boxes alone would swap their ids
            Person(1, a, abox, lambda t: right),
            Person(2, c, cbox, lambda t: left),
        ],
    )
    return {clip.name: clip for clip in (crossing, leave_return, turning, scene_cut)}


def write_video(path: Path, frames, fps: float) -> Path:
    """Write RGB frames to an .avi (MJPG) file with OpenCV."""
    writer = None
    for frame in frames:
        if writer is None:
            height, width = frame.shape[:2]
            writer = cv2.VideoWriter(
                str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height)
            )
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path
