"""Photo benchmark (issue 24): emonet against the `fer` peer on photos built from FER2013.

Builds photos deterministically from FER2013 PublicTest faces (never Training faces), in
three sets, and runs emonet's :class:`emonet.Recognizer` and the ``fer`` peer
(``../shared/peers/fer_ref.py``, fer 25.10.3's Haar cascade and network) on each photo,
interleaved photo by photo so that their speed ratio is fair on a noisy machine.

Sets
----
plain
    One face per 400x400 photo: the 48x48 face upscaled (bicubic) to 150 px and pasted at
    a random place on a flat mid-gray.
hard
    1-4 faces per 640x480 or 1280x720 photo, each upscaled to 40-220 px, rotated by up
    to 15 degrees and pasted with a feathered edge, without overlap, on a textured
    background (smoothed colour noise, gradients, rectangles and ellipses); then a colour
    tint, brightness and contrast, Gaussian blur (sigma 0-1.5) and JPEG (quality 60-95).
empty
    No face: the same backgrounds (and some flat ones), sizes and degradations, and the
    18 real photos without a face that scikit-image ships (:data:`REAL_EMPTY`).

A face's ground-truth box is the square of its upscaled 48x48 crop before rotation.

Measures
--------
Per set and system: detection recall and precision (greedy matching of boxes by IoU,
highest first, IoU >= ``--iou``; each system's boxes as it returns them), the mean IoU of
matches, the false faces on ``empty``, the accuracy on the detected faces against the same
faces read as 48x48 crops, the crop accuracy of all faces, the end-to-end accuracy (a
missed face counts as wrong), milliseconds per photo (mean, median) and the emonet/fer
ratio; ``predict_crops`` crops/s on the faces of ``hard`` for the preset, for the
``--fast-preset`` and for fer. With ``--pr``, the precision-recall curve of dlib's
detection score on ``hard`` + ``empty`` (a table and a PNG). Last, the targets of issue
24, each with pass or fail. Everything goes to ``OUT/photos.json`` too.

Usage
-----
Run from the repository root (fer's Haar cascade needs ``../shared/peers/setup-contrib
.venv/bin/python`` once)::

    python bench/photos.py                                  # 500 plain, 200 hard, 50 empty
    python bench/photos.py --plain 20 --hard 15 --empty 5   # a quick look
    python bench/photos.py --preset fast --no-pr --json
    python bench/photos.py --plain 10 --hard 10 --empty 5 --save out/bench_photos/photos
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

import emonet
from emonet.tracking import box_iou

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "fer2013"
DEFAULT_OUT = ROOT / "out" / "bench_photos"
PEERS = ROOT.parent / "shared" / "peers"
SETS = ("plain", "hard", "empty")
PR_THRESHOLDS = (-0.5, -0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3, 0.5)
PR_FLOOR = -1.0  # lowest threshold of the curve
# emonet.features.detect_faces: the largest long side at which upsample=None still doubles
# a photo in which nothing was found (docs/recognize.md)
AUTO_UPSAMPLE_MAX_SIDE = 1000
PLAIN_SIDE, PLAIN_FACE = 400, 150
HARD_SIZES = ((640, 480), (1280, 720))
FACE_RANGE = (40, 220)
MAX_ANGLE = 15.0
NEAR_MISS_IOU = 0.2
MIN_TIMED_CROPS = 512


class BenchError(Exception):
    """A problem with the arguments or the inputs, told in one line."""


# ---------------------------------------------------------------------- photos


@dataclass
class Photo:
    """A built photo and its truth: boxes (left, top, right, bottom), labels, 48x48 crops."""

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    crops: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)


def list_faces(data: Path) -> list[tuple[Path, int]]:
    """The PublicTest faces of a FER2013 image-folder release, with their label index."""
    faces = [
        (path, index)
        for index, label in enumerate(emonet.LABELS)
        for path in sorted((data / "val" / label).glob("PublicTest_*.jpg"))
    ]
    if not faces:
        raise BenchError(f"no PublicTest faces in {data}/val/<label>/PublicTest_*.jpg")
    return faces


class FacePool:
    """Faces drawn at random across the split (not by class), each once until all are."""

    def __init__(self, faces: Sequence[tuple[Path, int]], rng: np.random.Generator) -> None:
        self.faces = faces
        self.rng = rng
        self.order = rng.permutation(len(faces))
        self.position = 0

    def take(self) -> tuple[np.ndarray, int]:
        """The next face: a (48, 48) uint8 crop and its label index."""
        if self.position == len(self.order):
            self.order, self.position = self.rng.permutation(len(self.faces)), 0
        path, label = self.faces[self.order[self.position]]
        self.position += 1
        crop = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if crop is None:
            raise BenchError(f"{path}: cannot be read as an image")
        if crop.shape != (48, 48):
            crop = cv2.resize(crop, (48, 48), interpolation=cv2.INTER_AREA)
        return crop, label


def _photo(image: np.ndarray, faces: list[tuple[np.ndarray, int, tuple]], **meta) -> Photo:
    return Photo(
        image=image,
        boxes=np.array([box for *_, box in faces], np.int64).reshape(-1, 4),
        labels=np.array([label for _, label, _ in faces], np.int64),
        crops=np.array([crop for crop, *_ in faces], np.uint8).reshape(-1, 48, 48),
        meta=meta,
    )


def make_plain(pool: FacePool, n: int, rng: np.random.Generator) -> list[Photo]:
    """One 150-px face on a flat mid-gray 400x400 photo, nothing else changed."""
    photos = []
    for _ in range(n):
        crop, label = pool.take()
        gray = int(rng.integers(112, 145))
        image = np.full((PLAIN_SIDE, PLAIN_SIDE, 3), gray, np.uint8)
        x, y = (int(v) for v in rng.integers(0, PLAIN_SIDE - PLAIN_FACE + 1, size=2))
        face = cv2.resize(crop, (PLAIN_FACE, PLAIN_FACE), interpolation=cv2.INTER_CUBIC)
        image[y : y + PLAIN_FACE, x : x + PLAIN_FACE] = face[:, :, None]
        box = (x, y, x + PLAIN_FACE, y + PLAIN_FACE)
        photos.append(_photo(image, [(crop, label, box)], background=gray))
    return photos


def textured_background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Smoothed colour noise, a gradient, coloured rectangles and ellipses: (H, W, 3) float."""
    base = rng.uniform(60, 190, size=3)
    coarse = rng.uniform(-1, 1, size=(height // 48 + 2, width // 48 + 2, 3)).astype(np.float32)
    image = base + rng.uniform(20, 60) * cv2.resize(
        coarse, (width, height), interpolation=cv2.INTER_CUBIC
    )
    fine = rng.normal(0, 1, size=(height // 6 + 1, width // 6 + 1, 3)).astype(np.float32)
    image += rng.uniform(4, 14) * cv2.resize(fine, (width, height))
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = (xs * np.cos(angle) + ys * np.sin(angle)) / max(width, height)
    image += ramp[:, :, None] * rng.uniform(-60, 60, size=3)
    for _ in range(int(rng.integers(3, 13))):
        layer = image.copy()
        colour = tuple(float(c) for c in rng.uniform(0, 255, size=3))
        thickness = -1 if rng.random() < 0.7 else int(rng.integers(2, 9))
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        a, b = (int(v) for v in rng.integers(10, max(width, height) // 4, size=2))
        if rng.random() < 0.5:
            cv2.rectangle(layer, (cx - a, cy - b), (cx + a, cy + b), colour, thickness)
        else:
            cv2.ellipse(
                layer, (cx, cy), (a, b), float(rng.uniform(0, 180)), 0, 360, colour, thickness
            )
        alpha = rng.uniform(0.3, 0.9)
        image = (1 - alpha) * image + alpha * layer
    image += rng.normal(0, rng.uniform(1, 6), size=image.shape)
    return image.astype(np.float32)


def flat_background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A flat gray with a faint gradient: (H, W, 3) float."""
    ys = np.linspace(-1, 1, height, dtype=np.float32)[:, None, None]
    image = np.full((height, width, 3), rng.uniform(90, 170), np.float32)
    return image + rng.uniform(-15, 15) * ys


def _feather(side: int) -> np.ndarray:
    """A square mask of ones whose outer 5% fades to 0."""
    edge = np.arange(side, dtype=np.float32)
    edge = np.minimum(edge, edge[::-1])
    distance = np.minimum.outer(edge, edge)
    return np.clip((distance + 1.0) / max(1.5, 0.05 * side), 0.0, 1.0)


def paste_rotated(
    image: np.ndarray, crop: np.ndarray, left: int, top: int, side: int, angle: float
) -> None:
    """Paste a gray face, upscaled to ``side`` and turned by ``angle`` degrees about the
    centre of the square (left, top, side), into a float RGB image, in place."""
    face = cv2.resize(crop, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    centre = ((side - 1) / 2.0, (side - 1) / 2.0)
    matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
    margin = int(np.ceil(side * 0.25)) + 2
    x0, y0 = left - margin, top - margin  # a local window around the rotated square
    size = side + 2 * margin
    matrix[:, 2] += (margin, margin)
    height, width = image.shape[:2]
    warped = cv2.warpAffine(face, matrix, (size, size), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(_feather(side), matrix, (size, size), flags=cv2.INTER_LINEAR)
    ya, yb, xa, xb = max(0, y0), min(height, y0 + size), max(0, x0), min(width, x0 + size)
    window = (slice(ya - y0, yb - y0), slice(xa - x0, xb - x0))
    alpha = mask[window][:, :, None]
    image[ya:yb, xa:xb] = (1 - alpha) * image[ya:yb, xa:xb] + alpha * warped[window][:, :, None]


def degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour tint, brightness and contrast, Gaussian blur and JPEG: float RGB -> uint8 RGB."""
    image = image * rng.uniform(0.85, 1.15, size=3)
    image = (image - 128.0) * rng.uniform(0.7, 1.3) + 128.0 + rng.uniform(-30, 30)
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    sigma = rng.uniform(0.0, 1.5)
    if sigma >= 0.1:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    quality = int(rng.integers(60, 96))
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 image
        raise BenchError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _place(
    side: int, width: int, height: int, taken: list[tuple[int, ...]], rng: np.random.Generator
) -> tuple[int, int] | None:
    """A top-left corner for a face square whose rotated extent stays in the photo and
    clear of the others; None after 60 tries."""
    reach = int(np.ceil(side * 0.62)) + 3  # half the extent of a square turned by 15 degrees
    for _ in range(60):
        cx = int(rng.integers(reach, width - reach + 1)) if width > 2 * reach else -1
        cy = int(rng.integers(reach, height - reach + 1)) if height > 2 * reach else -1
        if cx < 0 or cy < 0:
            return None
        extent = (cx - reach, cy - reach, cx + reach, cy + reach)
        if all(
            extent[2] <= o[0] or o[2] <= extent[0] or extent[3] <= o[1] or o[3] <= extent[1]
            for o in taken
        ):
            taken.append(extent)
            return cx - side // 2, cy - side // 2
    return None


def make_hard(pool: FacePool, n: int, rng: np.random.Generator) -> list[Photo]:
    """1-4 faces of 40-220 px, turned up to 15 degrees, on textured 640x480 or 1280x720
    photos, then tint, brightness/contrast, blur and JPEG."""
    photos = []
    for _ in range(n):
        width, height = HARD_SIZES[int(rng.integers(len(HARD_SIZES)))]
        image = textured_background(width, height, rng)
        faces: list[tuple[np.ndarray, int, tuple]] = []
        taken: list[tuple[int, ...]] = []
        for _ in range(int(rng.integers(1, 5))):
            side = int(rng.integers(FACE_RANGE[0], FACE_RANGE[1] + 1))
            corner = _place(side, width, height, taken, rng)
            if corner is None:
                continue
            crop, label = pool.take()
            angle = float(rng.uniform(-MAX_ANGLE, MAX_ANGLE))
            paste_rotated(image, crop, *corner, side, angle)
            faces.append((crop, label, (*corner, corner[0] + side, corner[1] + side)))
        photos.append(_photo(degrade(image, rng), faces))
    return photos


def make_empty(n: int, rng: np.random.Generator) -> list[Photo]:
    """Photos without a face: textured (4 in 5) or flat backgrounds, degraded as ``hard``."""
    photos = []
    for _ in range(n):
        width, height = HARD_SIZES[int(rng.integers(len(HARD_SIZES)))]
        textured = rng.random() < 0.8
        make = textured_background if textured else flat_background
        image = degrade(make(width, height, rng), rng)
        photos.append(_photo(image, [], background="textured" if textured else "flat"))
    return photos


#: Real photos without a face that scikit-image ships (textures, objects, animals): false
#: faces on real surfaces, which the synthetic backgrounds do not show.
REAL_EMPTY = (
    "brick",
    "cell",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "colorwheel",
    "grass",
    "gravel",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "logo",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)


def real_empty() -> list[Photo]:
    """scikit-image's photos of :data:`REAL_EMPTY`, as RGB uint8."""
    from skimage import data as skdata

    photos = []
    for name in REAL_EMPTY:
        image = np.asarray(getattr(skdata, name)())
        if image.dtype == bool:
            image = image.astype(np.uint8) * 255
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        photos.append(_photo(np.ascontiguousarray(image[:, :, :3]), [], background=name))
    return photos


def build_sets(data: Path, counts: dict[str, int], seed: int) -> dict[str, list[Photo]]:
    """The three sets; each has its own random stream, so one set's size leaves the
    others unchanged."""
    faces = list_faces(data)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]
    plain_rng, hard_rng, empty_rng = streams
    return {
        "plain": make_plain(FacePool(faces, plain_rng), counts["plain"], plain_rng),
        "hard": make_hard(FacePool(faces, hard_rng), counts["hard"], hard_rng),
        "empty": make_empty(counts["empty"], empty_rng)
        + (real_empty() if counts["empty"] else []),
    }


def save_sets(sets: dict[str, list[Photo]], folder: Path) -> None:
    """Each photo as PNG, and truth.json (file, size, faces: box and label)."""
    folder.mkdir(parents=True, exist_ok=True)
    truth = []
    for name, photos in sets.items():
        for i, photo in enumerate(photos):
            file = f"{name}_{i:04d}.png"
            cv2.imwrite(str(folder / file), cv2.cvtColor(photo.image, cv2.COLOR_RGB2BGR))
            faces = [
                {"box": [int(v) for v in box], "label": emonet.LABELS[label]}
                for box, label in zip(photo.boxes, photo.labels, strict=True)
            ]
            height, width = photo.image.shape[:2]
            truth.append(
                {"file": file, "set": name, "width": width, "height": height, "faces": faces}
            )
    (folder / "truth.json").write_text(json.dumps(truth, indent=1))


# ---------------------------------------------------------------------- matching


def greedy_match(ious: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """(prediction, truth, IoU) pairs, highest IoU first, each used once, IoU >= threshold."""
    if ious.size == 0:
        return []
    pairs = np.argwhere(ious >= threshold)
    order = np.argsort(-ious[pairs[:, 0], pairs[:, 1]], kind="stable")
    used_p, used_g, matches = set(), set(), []
    for p, g in pairs[order]:
        if p not in used_p and g not in used_g:
            used_p.add(p)
            used_g.add(g)
            matches.append((int(p), int(g), float(ious[p, g])))
    return matches


# ---------------------------------------------------------------------- systems


@dataclass
class Answer:
    """What a system said about one photo: boxes (P, 4), labels (P,), milliseconds."""

    boxes: np.ndarray
    labels: np.ndarray
    ms: float


def emonet_answer(recognizer: Any, image: np.ndarray) -> Answer:
    start = time.perf_counter()
    (result,) = recognizer.predict(image)  # one PhotoResult per photo
    ms = 1000 * (time.perf_counter() - start)
    faces = result.faces
    boxes = np.array([face.box for face in faces], np.int64).reshape(-1, 4)
    labels = np.array([emonet.LABELS.index(face.label) for face in faces], np.int64)
    return Answer(boxes, labels, ms)


def fer_answer(fer: Any, image: np.ndarray) -> Answer:
    start = time.perf_counter()
    faces = fer.predict(image)  # RGB in, as FerRef.predict documents
    ms = 1000 * (time.perf_counter() - start)
    boxes = np.array([box for box, _ in faces], np.int64).reshape(-1, 4)
    labels = np.array([int(np.argmax(p)) for _, p in faces], np.int64)
    return Answer(boxes, labels, ms)


def run_photos(
    sets: dict[str, list[Photo]], systems: dict[str, Callable[[np.ndarray], Answer]]
) -> dict[str, dict[str, list[Answer]]]:
    """Every system on every photo, interleaved photo by photo (the order alternates)."""
    from tqdm import tqdm

    names = list(systems)
    answers: dict[str, dict[str, list[Answer]]] = {n: {s: [] for s in sets} for n in names}
    photos = [(s, photo) for s, group in sets.items() for photo in group]
    for i, (set_name, photo) in enumerate(tqdm(photos, desc="photos", unit="photo")):
        for name in names if i % 2 == 0 else names[::-1]:
            answers[name][set_name].append(systems[name](photo.image))
    return answers


def crop_labels(predict: Callable[[np.ndarray], np.ndarray], photos: list[Photo]) -> np.ndarray:
    """The label read from each truth crop of the photos, in order."""
    crops = [photo.crops for photo in photos]
    if not crops or sum(len(c) for c in crops) == 0:
        return np.empty(0, np.int64)
    return np.argmax(predict(np.concatenate(crops)), axis=1)


def crops_per_second(
    predictors: dict[str, Callable[[np.ndarray], np.ndarray]], crops: np.ndarray, rounds: int = 3
) -> dict[str, float]:
    """Median crops/s of each predictor over interleaved rounds, after a warm-up; fewer
    than MIN_TIMED_CROPS crops are repeated up to it, so that a call's fixed cost is spread
    as over a real batch."""
    if len(crops) < MIN_TIMED_CROPS:
        crops = np.resize(crops, (MIN_TIMED_CROPS, *crops.shape[1:]))
    times: dict[str, list[float]] = {name: [] for name in predictors}
    for predict in predictors.values():
        predict(crops)
    for _ in range(rounds):
        for name, predict in predictors.items():
            start = time.perf_counter()
            predict(crops)
            times[name].append(time.perf_counter() - start)
    return {name: len(crops) / statistics.median(t) for name, t in times.items()}


# ---------------------------------------------------------------------- figures


def evaluate(
    photos: list[Photo], answers: list[Answer], crop_pred: np.ndarray, iou: float
) -> dict[str, Any]:
    """One system's figures on one set."""
    n_truth = sum(len(p.boxes) for p in photos)
    n_pred = sum(len(a.boxes) for a in answers)
    matched = correct = crop_same = near = 0
    ious, scales = [], []
    false_faces = false_photos = 0
    offset = 0
    for photo, answer in zip(photos, answers, strict=True):
        matrix = box_iou(answer.boxes, photo.boxes)
        matches = greedy_match(matrix, iou)
        for p, g, value in matches:
            matched += 1
            correct += int(answer.labels[p] == photo.labels[g])
            crop_same += int(crop_pred[offset + g] == photo.labels[g])
            ious.append(value)
            box, truth = answer.boxes[p], photo.boxes[g]
            scales.append(np.sqrt(np.prod(box[2:] - box[:2]) / np.prod(truth[2:] - truth[:2])))
        free_p = sorted(set(range(len(answer.boxes))) - {p for p, _, _ in matches})
        free_g = sorted(set(range(len(photo.boxes))) - {g for _, g, _ in matches})
        if free_p and free_g:
            best = matrix[np.ix_(free_p, free_g)].max(axis=0)
            near += int(np.sum(best >= NEAR_MISS_IOU))
        if len(photo.boxes) == 0:
            false_faces += len(answer.boxes)
            false_photos += int(len(answer.boxes) > 0)
        offset += len(photo.boxes)
    crop_all = (
        int(np.sum(crop_pred == np.concatenate([p.labels for p in photos]))) if n_truth else 0
    )
    ms = [a.ms for a in answers]
    return {
        "photos": len(photos),
        "faces": n_truth,
        "predictions": n_pred,
        "matched": matched,
        "recall": _ratio(matched, n_truth),
        "precision": _ratio(matched, n_pred),
        "mean_iou": float(np.mean(ious)) if ious else None,
        "box_scale": float(np.median(scales)) if scales else None,
        "near_misses": near,
        "false_faces": false_faces,
        "false_photos": false_photos,
        "accuracy_detected": _ratio(correct, matched),
        "crop_accuracy_same": _ratio(crop_same, matched),
        "detected_minus_crop": (None if matched == 0 else (correct - crop_same) / matched),
        "crop_accuracy_all": _ratio(crop_all, n_truth),
        "end_to_end": _ratio(correct, n_truth),
        "ms_mean": float(np.mean(ms)) if ms else None,
        "ms_median": float(np.median(ms)) if ms else None,
    }


def _ratio(a: float, b: float) -> float | None:
    return None if not b else a / b


# ---------------------------------------------------------------------- PR curve


def detection_candidates(
    photos: list[Photo], upsample: int | None, detector: str
) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """Per photo, the detection passes as (boxes, scores) at min_score -10.

    One pass for a fixed ``upsample``; for ``None`` ("auto") the pass at the photo's size
    and, for photos of at most AUTO_UPSAMPLE_MAX_SIDE px, the pass at double size, which
    the recognizer falls back on when the first finds nothing above its threshold.
    """
    from tqdm import tqdm

    from emonet.features import detect_faces

    passes = []
    for photo in tqdm(photos, desc="detection scores", unit="photo"):
        gray = cv2.cvtColor(photo.image, cv2.COLOR_RGB2GRAY)  # as the recognizer reads RGB
        levels = [upsample] if upsample is not None else [0]
        if upsample is None and max(gray.shape) <= AUTO_UPSAMPLE_MAX_SIDE:
            levels.append(1)
        passes.append(
            [
                detect_faces(
                    gray, upsample=level, detector=detector, min_score=-10.0, return_scores=True
                )
                for level in levels
            ]
        )
    return passes


def kept_boxes(passes: list[tuple[np.ndarray, np.ndarray]], threshold: float) -> np.ndarray:
    """The boxes detect_faces returns at ``min_score=threshold``: the first pass's, or
    (auto upsampling) the second's when the first keeps none."""
    for boxes, scores in passes:
        keep = scores >= threshold
        if keep.any():
            return boxes[keep]
    return np.empty((0, 4), np.int64)


def pr_point(
    photos: list[Photo], candidates: list, threshold: float, iou: float
) -> dict[str, float | int | None]:
    """Recall, precision and false faces (photos without a face) at one threshold."""
    truth = matched = predicted = false_faces = false_photos = 0
    for photo, passes in zip(photos, candidates, strict=True):
        boxes = kept_boxes(passes, threshold)
        truth += len(photo.boxes)
        predicted += len(boxes)
        matched += len(greedy_match(box_iou(boxes, photo.boxes), iou))
        if len(photo.boxes) == 0:
            false_faces += len(boxes)
            false_photos += int(len(boxes) > 0)
    return {
        "threshold": threshold,
        "recall": _ratio(matched, truth),
        "precision": _ratio(matched, predicted),
        "predictions": predicted,
        "false_faces": false_faces,
        "false_photos": false_photos,
    }


def above(candidates: list, floor: float) -> list:
    """The candidates with a score >= floor (the others change no threshold >= floor)."""
    return [[(b[s >= floor], s[s >= floor]) for b, s in passes] for passes in candidates]


def pr_curve(photos: list[Photo], candidates: list, iou: float) -> list[dict[str, Any]]:
    """A point at each distinct score of the candidates (each is a threshold at which
    something changes), highest first."""
    scores = np.concatenate(
        [np.empty(0, np.float32)] + [s for passes in candidates for _, s in passes]
    )
    thresholds = np.unique(scores.astype(np.float64))[::-1]
    return [pr_point(photos, candidates, float(t), iou) for t in thresholds]


def plot_pr(
    curve: list[dict[str, Any]],
    marks: list[dict[str, Any]],
    operating: float,
    fer_point: tuple[float, float] | None,
    path: Path,
    upsample: str,
) -> None:
    """The precision-recall curve with the table's thresholds marked (PNG). With
    ``upsample`` auto, recall can fall as the threshold falls: a weak box at the photo's
    size stops the pass at double size that found a face."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [c for c in curve if c["recall"] is not None and c["precision"] is not None]
    fig, ax = plt.subplots(figsize=(7, 5.5))
    ax.plot(
        [p["recall"] for p in points],
        [p["precision"] for p in points],
        lw=1.5,
        label=f"dlib detection score, emonet (upsample {upsample})",
    )
    at: dict[tuple[float, float], list[float]] = {}  # thresholds that share a point
    for mark in marks:
        if mark["recall"] is not None and mark["precision"] is not None:
            at.setdefault((mark["recall"], mark["precision"]), []).append(mark["threshold"])
    for point, thresholds in at.items():
        is_op = any(abs(t - operating) < 1e-9 for t in thresholds)
        ax.plot(*point, "o", color="C3" if is_op else "C0", ms=5)
        text = " ".join(f"{t:+.2g}" for t in sorted(thresholds))
        ax.annotate(text, point, textcoords="offset points", xytext=(5, 4), fontsize=8)
    if fer_point is not None and None not in fer_point:
        ax.plot(*fer_point, "s", color="C1", ms=7, label="fer (Haar), its one setting")
    ax.plot([], [], "o", color="C3", label=f"emonet's threshold ({operating:+.2f})")
    ax.set(xlabel="recall (hard)", ylabel="precision (hard + empty)", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title("detection of the photo benchmark's faces, by score threshold")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------- report


ROWS = (
    ("photos", "photos", "n"),
    ("faces (truth)", "faces", "n"),
    ("predictions", "predictions", "n"),
    ("detection recall", "recall", "%"),
    ("detection precision", "precision", "%"),
    ("mean IoU of matches", "mean_iou", "f"),
    ("box side / truth side (median)", "box_scale", "f"),
    (f"near misses ({NEAR_MISS_IOU} <= IoU < --iou)", "near_misses", "n"),
    ("false faces (photos without a face)", "false_faces", "n"),
    ("photos with a false face", "false_photos", "n"),
    ("accuracy on detected faces", "accuracy_detected", "%"),
    ("same faces as 48x48 crops", "crop_accuracy_same", "%"),
    ("  difference (points)", "detected_minus_crop", "pt"),
    ("crop accuracy, all faces", "crop_accuracy_all", "%"),
    ("end-to-end accuracy", "end_to_end", "%"),
    ("ms per photo, mean", "ms_mean", "ms"),
    ("ms per photo, median", "ms_median", "ms"),
)
RATIO_ROWS = {"recall", "precision", "end_to_end", "ms_mean", "ms_median", "crop_accuracy_all"}


def _cell(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "%":
        return f"{100 * value:.1f}%"
    if kind == "pt":
        return f"{100 * value:+.1f}"
    if kind == "f":
        return f"{value:.2f}"
    if kind == "ms":
        return f"{value:,.1f}"
    return f"{value:,}"


def print_set(name: str, figures: dict[str, dict[str, Any]]) -> None:
    systems = list(figures)
    print(f"\nset {name!r}")
    header = f"  {'':38s}" + "".join(f"{s:>10s}" for s in systems)
    print(header + (f"{'ratio':>9s}" if len(systems) == 2 else ""))
    for title, key, kind in ROWS:
        values = [figures[s][key] for s in systems]
        if name != "empty" and key in {"false_faces", "false_photos"}:
            continue
        if name == "empty" and key not in {
            "photos",
            "predictions",
            "false_faces",
            "false_photos",
            "ms_mean",
            "ms_median",
        }:
            continue
        line = f"  {title:38s}" + "".join(f"{_cell(v, kind):>10s}" for v in values)
        if len(systems) == 2 and key in RATIO_ROWS and None not in values and values[1]:
            line += f"{values[0] / values[1]:8.2f}x"
        print(line)


def targets(
    figures: dict[str, dict[str, dict[str, Any]]], speeds: dict[str, float], fast_key: str | None
) -> list[dict[str, Any]]:
    """The targets of issue 24: what, measured, and pass (True/False) or None (not measured)."""
    out = []

    def add(what: str, measured: str, ok: bool | None) -> None:
        out.append({"target": what, "measured": measured, "pass": ok})

    for set_name, points in (("plain", 1.0), ("hard", 3.0)):
        e = figures[set_name].get("emonet", {})
        diff = e.get("detected_minus_crop")
        add(
            f"{set_name}: emonet accuracy on detected faces within {points:g} point(s) of "
            "the same faces as crops",
            "-" if diff is None else f"{100 * diff:+.1f} points",
            None if diff is None else 100 * diff >= -points,
        )
    e, f = figures["hard"].get("emonet", {}), figures["hard"].get("fer")
    if f is not None:
        ok = None if None in (e.get("recall"), f["recall"]) else e["recall"] >= f["recall"]
        add("hard: detection recall >= fer's", _pair(e.get("recall"), f["recall"]), ok)
        ok = (
            None
            if None in (e.get("precision"), f["precision"])
            else e["precision"] > f["precision"]
        )
        add("hard: detection precision > fer's", _pair(e.get("precision"), f["precision"]), ok)
        ok = (
            None
            if None in (e.get("end_to_end"), f["end_to_end"])
            else (e["end_to_end"] >= 1.3 * f["end_to_end"])
        )
        ratio = (
            f" ({e['end_to_end'] / f['end_to_end']:.2f}x)"
            if ok is not None and f["end_to_end"]
            else ""
        )
        add(
            "hard: end-to-end accuracy >= 1.3x fer's",
            _pair(e.get("end_to_end"), f["end_to_end"]) + ratio,
            ok,
        )
    empty = figures["empty"].get("emonet", {})
    add(
        "empty: no false face (emonet)",
        f"{empty.get('false_faces', '-')} false faces on {empty.get('photos', 0)} photos",
        None if not empty.get("photos") else empty["false_faces"] == 0,
    )
    if "all" in figures and "fer" in figures["all"]:
        e_ms, f_ms = figures["all"]["emonet"]["ms_mean"], figures["all"]["fer"]["ms_mean"]
        add(
            "ms per photo (mean, all photos): emonet <= fer",
            f"{e_ms:.1f} vs {f_ms:.1f} ms ({e_ms / f_ms:.2f}x)",
            e_ms <= f_ms,
        )
    if fast_key and fast_key in speeds and "fer" in speeds:
        add(
            f"{fast_key} crops/s >= fer's",
            f"{speeds[fast_key]:,.0f} vs {speeds['fer']:,.0f} "
            f"({speeds[fast_key] / speeds['fer']:.2f}x)",
            speeds[fast_key] >= speeds["fer"],
        )
    return out


def _pair(a: float | None, b: float | None) -> str:
    return f"{_cell(a, '%')} vs {_cell(b, '%')}"


def print_pr(marks: list[dict[str, Any]], n_hard: int, n_empty: int) -> None:
    print(
        f"\ndetection score thresholds (emonet's detector; hard: {n_hard} photos, "
        f"empty: {n_empty})"
    )
    print(
        f"  {'threshold':>9s} {'recall':>8s} {'precision':>10s} {'false faces':>12s} "
        f"{'photos':>7s}"
    )
    for m in marks:
        print(
            f"  {m['threshold']:+9.2f} {_cell(m['recall'], '%'):>8s} "
            f"{_cell(m['precision'], '%'):>10s} {m['false_faces']:12d} {m['false_photos']:7d}"
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


# ---------------------------------------------------------------------- main


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage block
        self.exit(2, f"{self.prog}: error: {message}\n")


def _upsample(text: str) -> int | None:
    if text == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'auto' or an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"'auto' or an integer >= 0, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"an integer >= 0, got {text!r}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = _Parser(prog="bench/photos.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="FER2013 image folders (val/<label>/PublicTest_*.jpg)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plain", type=_count, default=500, help="photos of set plain")
    parser.add_argument("--hard", type=_count, default=200, help="photos of set hard")
    parser.add_argument("--empty", type=_count, default=50, help="photos of set empty")
    parser.add_argument("--preset", default="default")
    parser.add_argument(
        "--fast-preset",
        default="fast",
        help="a second preset whose crops/s is measured ('none': skip)",
    )
    parser.add_argument("--detector", default="hog", choices=("hog", "cnn"))
    parser.add_argument(
        "--min-score",
        type=float,
        default=None,
        help="lowest detection score kept (default: the library's)",
    )
    parser.add_argument(
        "--upsample",
        type=_upsample,
        default=None,
        help="'auto' (the library's default) or an integer",
    )
    parser.add_argument(
        "--tta",
        choices=("none", "flip", "multiscale"),
        default=None,
        help="test-time augmentation (default: the preset's)",
    )
    parser.add_argument("--iou", type=float, default=0.4, help="IoU a match needs")
    parser.add_argument("--no-fer", action="store_true", help="skip the fer peer")
    parser.add_argument(
        "--pr",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the detection score's precision-recall curve",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--save", type=Path, default=None, help="write the photos here")
    parser.add_argument("--json", action="store_true", help="also print photos.json")
    args = parser.parse_args(argv)
    if not 0 < args.iou <= 1:
        parser.error(f"--iou must be in (0, 1], got {args.iou}")
    if args.plain + args.hard + args.empty == 0:
        parser.error("no photos to build: --plain, --hard and --empty are all 0")
    if not (args.data / "val").is_dir():
        parser.error(f"--data {args.data}: no val/ folder (FER2013 image folders)")
    if args.fast_preset.lower() == "none":
        args.fast_preset = None
    return args


def load_systems(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """The recognizer, the fast preset's (or None) and fer's reference (or None)."""
    recognizer = emonet.Recognizer(
        preset=args.preset,
        detector=args.detector,
        min_score=args.min_score,
        upsample=args.upsample,
        tta=args.tta,
    )
    fast = None
    if args.fast_preset and args.fast_preset != args.preset:
        fast = emonet.Recognizer(preset=args.fast_preset)
    fer = None
    if not args.no_fer:
        sys.path.insert(0, str(PEERS))
        from fer_ref import FerRef

        fer = FerRef()
        fer.predict(np.zeros((64, 64, 3), np.uint8))  # loads the Haar cascade now
    return recognizer, fast, fer


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    counts = {"plain": args.plain, "hard": args.hard, "empty": args.empty}
    try:
        sets = build_sets(args.data, counts, args.seed)
        recognizer, fast, fer = load_systems(args)
    except (BenchError, ValueError, FileNotFoundError, RuntimeError, ImportError) as error:
        hint = " (--no-fer skips the peer)" if "cv2" in str(error) else ""
        print(f"bench/photos.py: error: {error}{hint}", file=sys.stderr)
        return 2
    faces = {name: sum(len(p.boxes) for p in photos) for name, photos in sets.items()}
    print(
        f"photos (seed {args.seed}): "
        + ", ".join(f"{name} {len(sets[name])} ({faces[name]} faces)" for name in SETS)
    )
    if args.save:
        save_sets(sets, args.save)
        print(f"photos and truth.json written to {args.save}")
    upsample = "auto" if args.upsample is None else args.upsample
    min_score = "library default" if args.min_score is None else args.min_score
    print(
        f"emonet: preset {args.preset!r}, detector {args.detector}, min_score {min_score}, "
        f"upsample {upsample}, tta {recognizer.tta_!r}; fer: "
        + ("skipped" if fer is None else "FerRef (Haar cascade, fer's boxes as it reports them)")
    )

    systems: dict[str, Callable[[np.ndarray], Answer]] = {
        "emonet": lambda image: emonet_answer(recognizer, image)
    }
    if fer is not None:
        systems["fer"] = lambda image: fer_answer(fer, image)
    every = [photo for name in SETS for photo in sets[name]]
    warm = next((p for p in every if len(p.boxes)), every[0])
    for system in systems.values():
        system(warm.image)
    answers = run_photos(sets, systems)

    crop_predictors: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "emonet": recognizer.predict_crops
    }
    if fer is not None:
        crop_predictors["fer"] = fer.predict_crops
    figures: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in SETS}
    for system, predict in crop_predictors.items():
        for name in SETS:
            labels = crop_labels(predict, sets[name])
            figures[name][system] = evaluate(sets[name], answers[system][name], labels, args.iou)
        all_answers = [a for name in SETS for a in answers[system][name]]
        ms = [a.ms for a in all_answers]
        figures.setdefault("all", {})[system] = {
            "photos": len(ms),
            "ms_mean": float(np.mean(ms)),
            "ms_median": float(np.median(ms)),
        }

    speeds: dict[str, float] = {}
    crops = np.concatenate([p.crops for p in sets["hard"]] or [np.empty((0, 48, 48), np.uint8)])
    fast_key = None
    if len(crops):
        predictors = {args.preset: recognizer.predict_crops}
        if fast is not None:
            fast_key = args.fast_preset
            predictors[fast_key] = fast.predict_crops
        elif args.fast_preset == args.preset:
            fast_key = args.preset
        if fer is not None:
            predictors["fer"] = fer.predict_crops
        speeds = crops_per_second(predictors, crops)

    for name in SETS:
        if sets[name]:
            print_set(name, figures[name])
    if "all" in figures:
        line = "  ".join(
            f"{s} {f['ms_mean']:.1f} mean / {f['ms_median']:.1f} median"
            for s, f in figures["all"].items()
        )
        print(f"\nms per photo, all {len(every)} photos: {line}")
        if "fer" in figures["all"]:
            ratio = figures["all"]["emonet"]["ms_mean"] / figures["all"]["fer"]["ms_mean"]
            print(f"  emonet / fer: {ratio:.2f}x")
    if speeds:
        ttas = {args.preset: recognizer.tta_}
        if fast is not None:
            ttas[args.fast_preset] = fast.tta_
        repeated = f", repeated to {MIN_TIMED_CROPS}" if len(crops) < MIN_TIMED_CROPS else ""
        print(
            f"\npredict_crops on the {len(crops)} faces of set 'hard'{repeated} "
            "(median of 3 rounds):"
        )
        for name, value in speeds.items():
            what = f"preset, tta {ttas[name]!r}" if name in ttas else "FerRef, one face a call"
            ratio = f"  ({value / speeds['fer']:.2f}x fer)" if "fer" in speeds else ""
            print(f"  {name:10s} {value:8,.0f} crops/s  [{what}]{ratio}")

    report: dict[str, Any] = {
        "settings": {
            "seed": args.seed,
            "counts": counts,
            "faces": faces,
            "preset": args.preset,
            "detector": args.detector,
            "min_score": args.min_score,
            "upsample": upsample,
            "tta": recognizer.tta_,
            "iou": args.iou,
            "fer": fer is not None,
        },
        "sets": figures,
        "crops_per_second": speeds,
    }
    if args.pr and (sets["hard"] or sets["empty"]):
        report["pr"] = pr_report(args, sets, answers, figures)
    report["targets"] = targets(figures, speeds, fast_key)
    print("\ntargets of issue 24:")
    for t in report["targets"]:
        verdict = {True: "PASS", False: "FAIL", None: "n/a "}[t["pass"]]
        print(f"  [{verdict}] {t['target']}: {t['measured']}")

    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_jsonable(report), indent=1)
    (args.out / "photos.json").write_text(text)
    print(f"\nfigures written to {args.out / 'photos.json'}")
    if args.json:
        print(text)
    return 0


def pr_report(
    args: argparse.Namespace,
    sets: dict[str, list[Photo]],
    answers: dict[str, dict[str, list[Answer]]],
    figures: dict[str, dict[str, dict[str, Any]]],
) -> dict[str, Any]:
    """The detection score's precision-recall curve on hard + empty: table, PNG, figures."""
    from emonet.features import check_detection

    photos = sets["hard"] + sets["empty"]
    operating = check_detection(args.detector, None, args.min_score)
    # dlib reports 50-400 candidates a photo at -10; the curve starts at PR_FLOOR
    candidates = above(
        detection_candidates(photos, args.upsample, args.detector),
        min(PR_FLOOR, operating),
    )
    curve = pr_curve(photos, candidates, args.iou)
    marks = [pr_point(photos, candidates, t, args.iou) for t in PR_THRESHOLDS]
    if operating not in PR_THRESHOLDS:
        marks = sorted(
            [*marks, pr_point(photos, candidates, operating, args.iou)],
            key=lambda m: m["threshold"],
        )
    print_pr(marks, len(sets["hard"]), len(sets["empty"]))
    # the recognizer's own boxes must be those of the emulated pass at its threshold
    seen = answers["emonet"]["hard"] + answers["emonet"]["empty"]
    same = sum(
        sorted(map(tuple, kept_boxes(c, operating).tolist()))
        == sorted(map(tuple, a.boxes.tolist()))
        for c, a in zip(candidates, seen, strict=True)
    )
    print(
        f"  the recognizer's boxes = this pass's at {operating:+.2f} on {same}/{len(photos)} "
        "photos"
    )
    fer_point = None
    if "fer" in figures["hard"]:
        fer_hard, fer_empty = figures["hard"]["fer"], figures["empty"]["fer"]
        predictions = fer_hard["predictions"] + fer_empty["predictions"]
        fer_point = (fer_hard["recall"], _ratio(fer_hard["matched"], predictions))
    png = args.out / "pr_curve.png"
    upsample = "auto" if args.upsample is None else str(args.upsample)
    plot_pr(curve, marks, operating, fer_point, png, upsample)
    print(f"  curve ({len(curve)} thresholds) written to {png}")
    return {
        "photos": len(photos),
        "operating_threshold": operating,
        "recognizer_agrees_on": same,
        "marks": marks,
        "fer_point": fer_point,
        "curve": curve,
    }


if __name__ == "__main__":
    sys.exit(main())
