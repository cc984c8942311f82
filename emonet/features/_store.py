"""The features file: one self-describing HDF5 file per extracted dataset.

Layout (every dataset has N rows, one per face, in input order)::

    images    (N, 48, 48) uint8    the faces the features were computed on
    features  (N, 2728)   float32  landmarks x0, y0, ..., x67, y67, then the HOG
    labels    (N,)        int64    FER2013 label index, -1 when unknown
    usage     (N,)        str      Training / PublicTest / PrivateTest, or ""
    ids       (N,)        str      unique face ids (path below the input, or CSV data row)
    skipped_ids, skipped_reasons (K,) str   inputs left out, and why

Attributes record the format, the emonet version, the label names, the HOG
parameters and the input.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from emonet._constants import FACE_SIZE, LABELS, LANDMARK_FEATURES, NUM_LANDMARKS
from emonet._io import atomic_path
from emonet.data import check_usages

FORMAT_NAME = "emonet-features"
FORMAT_VERSION = 1
_STR = h5py.string_dtype()
_ROW_DATASETS = {
    "images": ((FACE_SIZE, FACE_SIZE), np.uint8),
    "features": (None, np.float32),
    "labels": ((), np.int64),
    "usage": ((), _STR),
    "ids": ((), _STR),
}


@dataclass
class FeatureSet:
    """Faces and their EmoNet features, as read from a features file.

    Attributes
    ----------
    images : (N, 48, 48) ndarray of uint8
    features : (N, F) ndarray of float32
        136 landmark coordinates then the HOG values.
    labels : (N,) ndarray of int64
    usage : (N,) ndarray of str
    ids : (N,) ndarray of str
    attrs : dict
        The file's attributes (HOG parameters, emonet version, source, ...).
    skipped : list of (id, reason)
        Inputs the extraction left out.
    """

    images: np.ndarray
    features: np.ndarray
    labels: np.ndarray
    usage: np.ndarray
    ids: np.ndarray
    attrs: dict = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.features)

    def __repr__(self) -> str:
        values, counts = np.unique(self.usage, return_counts=True)
        split = ", ".join(
            f"{u or 'unspecified'}: {c}" for u, c in zip(values, counts, strict=False)
        )
        return f"FeatureSet({len(self)} faces x {self.features.shape[1]} features; {split})"

    @property
    def landmarks(self) -> np.ndarray:
        """(N, 68, 2) landmark coordinates (a view of ``features``)."""
        return self.features[:, :LANDMARK_FEATURES].reshape(-1, NUM_LANDMARKS, 2)

    @property
    def hog(self) -> np.ndarray:
        """(N, F - 136) HOG values (a view of ``features``)."""
        return self.features[:, LANDMARK_FEATURES:]

    def select(self, usage: str | list[str]) -> FeatureSet:
        """The rows of one usage (or several), e.g. ``"Training"``.

        Raises
        ------
        ValueError
            If a usage is not a FER2013 usage.
        """
        keep = np.isin(self.usage, check_usages(usage))
        return FeatureSet(
            self.images[keep],
            self.features[keep],
            self.labels[keep],
            self.usage[keep],
            self.ids[keep],
            dict(self.attrs),
            list(self.skipped),
        )


def load_features(path: str | os.PathLike, usage: str | list[str] | None = None) -> FeatureSet:
    """Read a features file written by ``emonet-extract-features``.

    Parameters
    ----------
    path : str or path-like
        The ``.h5`` file.
    usage : str or list of str, optional
        Read only these usages.

    Returns
    -------
    FeatureSet

    Raises
    ------
    ValueError
        If the file is not an emonet features file.
    FileNotFoundError
        If it does not exist.

    Examples
    --------
    >>> from emonet.features import load_features
    >>> train = load_features("fer2013.h5", usage="Training")  # doctest: +SKIP
    >>> train.features.shape  # doctest: +SKIP
    (28709, 2728)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such features file")
    wanted = None if usage is None else check_usages(usage)
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path}: not an HDF5 file ({error})") from None
    with file:
        if file.attrs.get("format") != FORMAT_NAME:
            raise ValueError(
                f"{path}: not an emonet features file; create one with emonet-extract-features"
            )
        try:
            return _read_features(file, wanted)
        except (KeyError, OSError, TypeError, ValueError) as error:
            # a truncated or edited file: one line naming it, not h5py's traceback
            raise ValueError(
                f"{path}: damaged emonet features file ({error}); extract it again"
            ) from None


def _read_features(file: h5py.File, usage: list[str] | None) -> FeatureSet:
    attrs = {k: _attr_value(v) for k, v in file.attrs.items()}
    usage_all = file["usage"].asstr()[:]
    rows = slice(None) if usage is None else np.isin(usage_all, usage)
    skipped = list(
        zip(file["skipped_ids"].asstr()[:], file["skipped_reasons"].asstr()[:], strict=True)
    )
    features = FeatureSet(
        images=file["images"][rows] if usage is None else file["images"][:][rows],
        features=file["features"][rows] if usage is None else file["features"][:][rows],
        labels=file["labels"][:][rows],
        usage=usage_all[rows].astype(str),
        ids=file["ids"].asstr()[:][rows].astype(str),
        attrs=attrs,
        skipped=skipped,
    )
    n = len(features.features)
    for name in ("images", "labels", "usage", "ids"):
        if len(getattr(features, name)) != n:
            raise ValueError(f"{len(getattr(features, name))} {name} for {n} feature rows")
    return features


def _attr_value(value):
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value.item() if isinstance(value, np.generic) else value


class FeatureFileWriter:
    """Append parts to a new features file; it appears under its name only when closed.

    Rows are written to a hidden temporary file beside ``path`` as they come, so memory
    stays at one part; :meth:`close` adds the skipped inputs and moves the file onto
    ``path`` (:func:`emonet._io.atomic_path`). On :meth:`abort`, or if opening fails,
    the temporary file is removed: only a killed process leaves one behind.

    Parameters
    ----------
    path : str or path-like
        The ``.h5`` file to create.
    attrs : mapping
        File attributes (lists and dicts are stored as JSON).
    n_features : int
        Length of each feature vector.

    Examples
    --------
    >>> with FeatureFileWriter("faces.h5", {"source": "mine"}, 2728) as writer:  # doctest: +SKIP
    ...     writer.append(part)
    """

    def __init__(self, path: str | os.PathLike, attrs: Mapping[str, object], n_features: int):
        self.path = Path(path)
        self.n_rows = 0
        self._skipped: list[tuple[str, str]] = []
        self._stack = contextlib.ExitStack()
        try:
            self._tmp = self._stack.enter_context(atomic_path(self.path))
            self._file = self._stack.enter_context(h5py.File(self._tmp, "w"))
            self._start(attrs, n_features)
        except BaseException:
            self._stack.close()  # closes the file, then removes the temporary one
            raise

    def _start(self, attrs: Mapping[str, object], n_features: int) -> None:
        self._file.attrs["format"] = FORMAT_NAME
        self._file.attrs["format_version"] = FORMAT_VERSION
        self._file.attrs["label_names"] = json.dumps(list(LABELS))
        for key, value in attrs.items():
            self._file.attrs[key] = json.dumps(value) if isinstance(value, list | dict) else value
        for name, (shape, dtype) in _ROW_DATASETS.items():
            shape = (n_features,) if shape is None else shape
            rows_per_chunk = max(1, min(1024, 2**20 // max(1, 4 * int(np.prod(shape)))))
            self._file.create_dataset(
                name,
                shape=(0, *shape),
                maxshape=(None, *shape),
                dtype=dtype,
                chunks=(rows_per_chunk, *shape),
            )

    def append(self, part: Mapping[str, np.ndarray]) -> None:
        """Append one part: a mapping with ``images``, ``features``, ``labels``,
        ``usage``, ``ids`` and optionally ``skipped_ids`` and ``skipped_reasons``."""
        n, m = self.n_rows, len(part["ids"])
        for name in _ROW_DATASETS:
            data = self._file[name]
            data.resize(n + m, axis=0)
            values = part[name]
            data[n : n + m] = values.astype(object) if data.dtype == _STR else values
        self.n_rows += m
        self._skipped += zip(
            map(str, part.get("skipped_ids", ())),
            map(str, part.get("skipped_reasons", ())),
            strict=True,
        )

    def close(self) -> None:
        """Finish the file and give it its name."""
        try:
            ids, reasons = zip(*self._skipped, strict=True) if self._skipped else ((), ())
            self._file.create_dataset("skipped_ids", data=np.array(ids, dtype=object), dtype=_STR)
            self._file.create_dataset(
                "skipped_reasons", data=np.array(reasons, dtype=object), dtype=_STR
            )
        except BaseException:
            self.abort()
            raise
        self._stack.close()  # closes the file, then moves it onto self.path

    def abort(self) -> None:
        """Drop the unfinished file."""
        # an exception passed to the stack makes atomic_path remove, not move, the file
        with contextlib.suppress(_Aborted):
            self._stack.__exit__(_Aborted, _Aborted(), None)

    def __enter__(self) -> FeatureFileWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class _Aborted(Exception):
    """Raised into the writer's context stack to drop the temporary file."""


def save_features(
    path: str | os.PathLike,
    parts: Iterable[Mapping[str, np.ndarray]],
    attrs: Mapping[str, object],
    n_features: int,
) -> int:
    """Write parts one after another into a new features file.

    Parts are mappings with the row datasets (``images``, ``features``, ``labels``,
    ``usage``, ``ids``) and optionally ``skipped_ids`` and ``skipped_reasons``. The file
    is written under a temporary name and renamed at the end, so ``path`` is either
    absent or complete. Memory stays at one part.

    Parameters
    ----------
    path : str or path-like
        The ``.h5`` file to create.
    parts : iterable of mappings
        The rows, in order.
    attrs : mapping
        File attributes, e.g. the source and the extractor's parameters.
    n_features : int
        Length of each feature vector.

    Returns
    -------
    int
        Number of rows written.

    Examples
    --------
    >>> save_features("faces.h5", [part], {"source": "mine"}, 2728)  # doctest: +SKIP
    """
    with FeatureFileWriter(path, attrs, n_features) as writer:
        for part in parts:
            writer.append(part)
    return writer.n_rows
