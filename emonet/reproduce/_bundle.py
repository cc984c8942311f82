"""The compact bundle: FER2013 for a machine without dlib, TensorFlow or much room.

A GPU machine may have JAX or PyTorch but neither dlib (the landmarks) nor TensorFlow,
no network, and room for about 60 MB brought along, while the full features file is
480 MB. The bundle keeps what cannot be recomputed there and drops what can::

    format, version       "emonet-bundle", 1
    data, offsets         each face's encoded image, end to end: the original JPEG bytes
                          where they decode to the extracted face, else a lossless PNG
                          (a CSV's pixels); face i is data[offsets[i]:offsets[i + 1]]
    landmarks  (N, 68, 2) int16, in 1/8 pixel (dlib's are whole pixels: exact)
    labels     (N,)       int8
    usage      (N,)       uint8 codes into usage_names
    ids        (N,)       str
    attrs                 JSON: the features file's attributes (HOG settings, source)

:func:`load_bundle` decodes the faces (OpenCV) and recomputes the HOG with
:func:`emonet.features.sliding_hog` (numpy only): the features equal the extracted
ones, the HOG bit for bit, the landmarks within the 1/16 pixel of their rounding.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from emonet._constants import FACE_SIZE, HOG_SETTINGS, LABELS, NUM_LANDMARKS
from emonet._io import atomic_open
from emonet.data import DataError, check_usages, iter_records
from emonet.features import FeatureSet, extract_to_file, load_features, sliding_hog

__all__ = ["BundleReport", "load_bundle", "pack_bundle", "stratified_rows"]

BUNDLE_FORMAT = "emonet-bundle"
BUNDLE_VERSION = 1
#: Landmarks are stored as int16 in 1/LANDMARK_SCALE pixel.
LANDMARK_SCALE = 8
_HOG_KEYS = HOG_SETTINGS


@dataclass
class BundleReport:
    """What :func:`pack_bundle` wrote.

    Attributes
    ----------
    path : pathlib.Path
    faces : int
    bytes : int
        Size of the bundle file.
    jpeg_faces, png_faces : int
        Faces kept as their original file's bytes, and faces encoded as PNG.
    usage_counts : dict of str to int
    seconds : float
    """

    path: Path
    faces: int = 0
    bytes: int = 0
    jpeg_faces: int = 0
    png_faces: int = 0
    usage_counts: dict = field(default_factory=dict)
    seconds: float = 0.0


def stratified_rows(
    labels: np.ndarray,
    usage: np.ndarray,
    faces_per_label: int | Mapping[str, int] | None,
    seed: int = 0,
) -> np.ndarray:
    """Rows of at most ``faces_per_label`` faces of each label in each usage, at random.

    Parameters
    ----------
    labels, usage : (N,) arrays
    faces_per_label : int, mapping of usage to int, or None
        One cap for every usage, or one per usage (usages not named are left out);
        ``None`` keeps every row.
    seed : int, default=0

    Returns
    -------
    (M,) ndarray of int64
        Sorted row numbers.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.reproduce import stratified_rows
    >>> labels, usage = np.array([0, 0, 0, 1, 1]), np.array(["Training"] * 5)
    >>> stratified_rows(labels, usage, 2).size
    4
    """
    labels, usage = np.asarray(labels), np.asarray(usage)
    if faces_per_label is None:
        return np.arange(len(labels), dtype=np.int64)
    caps = (
        dict(faces_per_label)
        if isinstance(faces_per_label, Mapping)
        else dict.fromkeys(np.unique(usage).tolist(), int(faces_per_label))
    )
    rng = np.random.default_rng(seed)
    chosen = []
    for name, cap in caps.items():
        for label in np.unique(labels):
            rows = np.flatnonzero((usage == name) & (labels == label))
            if len(rows) > cap:
                rows = rng.choice(rows, cap, replace=False)
            chosen.append(rows)
    return np.sort(np.concatenate(chosen)).astype(np.int64) if chosen else np.zeros(0, np.int64)


def _decode(data: bytes | np.ndarray) -> np.ndarray | None:
    buffer = np.frombuffer(data, dtype=np.uint8)
    return cv2.imdecode(buffer, cv2.IMREAD_GRAYSCALE) if buffer.size else None


def _png(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise ValueError("could not encode a face as PNG")
    return encoded.tobytes()


def _source_files(source: Path) -> dict[str, str]:
    """Face id (and file stem) -> file of an image-folder input; empty for a CSV."""
    if source.suffix.lower() in (".csv", ".h5", ".npz") or not source.is_dir():
        return {}
    _, records, _ = iter_records(source, skip_unknown_labels=True)
    files = {}
    for record in records:
        if record.path is not None:
            files[record.id] = record.path
            files.setdefault(Path(record.id).stem, record.path)
    return files


def pack_bundle(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    features: str | os.PathLike[str] | None = None,
    usage: str | Sequence[str] | None = None,
    jobs: int | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> BundleReport:
    """Pack FER2013 into a bundle that trains without dlib (see the module's docstring).

    Parameters
    ----------
    source : str or path-like
        ``fer2013.csv``, an image-folder release, or an emonet features file (``.h5``).
    output : str or path-like
        The ``.npz`` bundle to write (atomically).
    features : str or path-like, optional
        The features file already extracted from ``source``: its landmarks, labels,
        usages and ids are packed. Without it, the features of ``source`` are extracted
        first (dlib, about 2 ms a face, in ``jobs`` processes).
    usage : str or sequence of str, optional
        Pack only these usages, e.g. ``["Training", "PublicTest"]``.
    jobs : int, optional
        Extraction processes; default every core.
    overwrite : bool, default=False
        Replace an existing bundle.
    progress : bool, default=False
        Show the extraction's progress bar.

    Returns
    -------
    BundleReport

    Raises
    ------
    FileExistsError
        If ``output`` exists and ``overwrite`` is False.
    DataError, ValueError
        If the input cannot be read, or holds no face of the usages asked for.

    Examples
    --------
    >>> from emonet.reproduce import load_bundle, pack_bundle
    >>> pack_bundle("fer2013", "bundle.npz", features="fer2013.h5")  # doctest: +SKIP
    >>> load_bundle("bundle.npz", usage="PublicTest").features.shape  # doctest: +SKIP
    (3589, 2728)
    """
    start = time.perf_counter()
    source, output = Path(source), Path(output)
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists; pass overwrite=True (--overwrite) to replace it")
    with tempfile.TemporaryDirectory(prefix="emonet-pack-") as scratch:
        if features is not None:
            data = load_features(features)
        elif source.suffix.lower() == ".h5":
            data = load_features(source)
        else:
            extracted = Path(scratch) / "features.h5"
            extract_to_file(source, extracted, jobs=jobs, progress=progress)
            data = load_features(extracted)
    if usage is not None:
        data = data.select(check_usages(usage))
    if len(data) == 0:
        raise DataError(f"{source}: no face to pack" + (f" of usage {usage}" if usage else ""))

    files = _source_files(source)
    report = BundleReport(output)
    encoded: list[bytes] = []
    for face_id, image in zip(data.ids, data.images, strict=True):
        path = files.get(face_id) or files.get(Path(face_id).stem)
        raw = Path(path).read_bytes() if path else b""
        decoded = _decode(raw) if raw else None
        # the original bytes only where they decode to the very face that was extracted
        if decoded is not None and np.array_equal(decoded, image):
            encoded.append(raw)
            report.jpeg_faces += 1
        else:
            encoded.append(_png(image))
            report.png_faces += 1
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(b) for b in encoded])
    landmarks = np.round(data.landmarks * LANDMARK_SCALE)
    if np.abs(landmarks).max(initial=0) > np.iinfo(np.int16).max:
        raise ValueError("landmarks lie too far outside the faces to pack as int16")
    usage_names, usage_codes = np.unique(data.usage.astype(str), return_inverse=True)
    attrs = {k: v for k, v in data.attrs.items() if isinstance(v, str | int | float | bool)}
    attrs.update({f"hog_{k}": _json_value(v) for k, v in data.attrs.items() if k[4:] in _HOG_KEYS})
    attrs["packed_from"] = str(source)
    with atomic_open(output, "wb") as stream:
        np.savez_compressed(
            stream,
            format=np.array(BUNDLE_FORMAT),
            version=np.array(BUNDLE_VERSION),
            data=np.frombuffer(b"".join(encoded), dtype=np.uint8),
            offsets=offsets,
            landmarks=landmarks.astype(np.int16),
            labels=data.labels.astype(np.int8),
            usage=usage_codes.astype(np.uint8),
            usage_names=usage_names.astype(str),
            ids=data.ids.astype(str),
            attrs=np.array(json.dumps(attrs, default=_json_value)),
        )
    report.faces = len(data)
    report.bytes = output.stat().st_size
    report.usage_counts = dict(zip(*np.unique(data.usage, return_counts=True), strict=True))
    report.usage_counts = {str(k): int(v) for k, v in report.usage_counts.items()}
    report.seconds = time.perf_counter() - start
    return report


def _json_value(value):
    return value.item() if isinstance(value, np.generic) else value


def load_bundle(
    path: str | os.PathLike[str],
    *,
    usage: str | Sequence[str] | None = None,
    faces_per_label: int | Mapping[str, int] | None = None,
    seed: int = 0,
) -> FeatureSet:
    """Read a bundle of :func:`pack_bundle` as a feature set, the HOG recomputed.

    Needs numpy and OpenCV only (no dlib, no TensorFlow).

    Parameters
    ----------
    path : str or path-like
        The ``.npz`` bundle.
    usage : str or sequence of str, optional
        Read only these usages.
    faces_per_label : int or mapping of usage to int, optional
        Read at most this many faces of each label in each usage, chosen at random
        (:func:`stratified_rows`); only those are decoded.
    seed : int, default=0
        Seed of that choice.

    Returns
    -------
    FeatureSet
        Faces, 2,728 features (landmarks, then the HOG of the bundle's settings), labels,
        usages, ids; ``attrs`` as the features file's, with ``source`` the bundle.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not an emonet bundle, or is damaged.

    Examples
    --------
    >>> from emonet.reproduce import load_bundle
    >>> data = load_bundle("bundle.npz", usage=["Training", "PublicTest"])  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such bundle")
    try:
        with np.load(path, allow_pickle=False) as bundle:
            if "format" not in bundle.files or str(bundle["format"]) != BUNDLE_FORMAT:
                raise ValueError(
                    f"{path}: not an emonet bundle; make one with emonet-reproduce --pack"
                )
            usage_all = bundle["usage_names"][bundle["usage"]].astype(str)
            labels = bundle["labels"].astype(np.int64)
            keep = np.ones(len(labels), dtype=bool)
            if usage is not None:
                keep &= np.isin(usage_all, check_usages(usage))
            rows = np.flatnonzero(keep)
            if faces_per_label is not None:
                rows = rows[stratified_rows(labels[rows], usage_all[rows], faces_per_label, seed)]
            data, offsets = bundle["data"], bundle["offsets"]
            landmarks = bundle["landmarks"][rows].astype(np.float32) / LANDMARK_SCALE
            ids = bundle["ids"][rows].astype(str)
            attrs = json.loads(str(bundle["attrs"]))
    except (KeyError, OSError, EOFError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: damaged emonet bundle ({error}); pack it again") from None
    images = np.empty((len(rows), FACE_SIZE, FACE_SIZE), dtype=np.uint8)
    for i, row in enumerate(rows):
        face = _decode(data[offsets[row] : offsets[row + 1]])
        if face is None or face.shape != (FACE_SIZE, FACE_SIZE):
            raise ValueError(f"{path}: face {ids[i]} does not decode to a 48x48 image")
        images[i] = face
    settings = {k: attrs[f"hog_{k}"] for k in _HOG_KEYS if f"hog_{k}" in attrs}
    hog = sliding_hog(images, **settings).astype(np.float32)
    features = np.concatenate(
        [landmarks.reshape(len(rows), NUM_LANDMARKS * 2), hog], axis=1
    ).astype(np.float32)
    return FeatureSet(
        images,
        features,
        labels[rows],
        usage_all[rows],
        ids,
        attrs={**attrs, "source": str(path), "label_names": list(LABELS)},
    )
