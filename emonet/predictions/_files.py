"""Prediction files: the format of :mod:`emonet.predictions`, written and read, checked."""

from __future__ import annotations

import os
import struct
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emonet._constants import LABELS, NUM_CLASSES
from emonet._io import atomic_open

__all__ = ["UNKNOWN_LABEL", "Predictions", "load_predictions", "save_predictions"]

#: Label value of a face whose true expression is unknown (an unlabelled test set).
UNKNOWN_LABEL: int = -1

#: Version written into every file; bump it when the layout changes incompatibly.
FORMAT_VERSION: int = 1

# float32 softmax rows are off by ~1e-6; allow more so rounded exports still load.
_ROW_SUM_TOLERANCE = 1e-3


@dataclass(frozen=True, eq=False)
class Predictions:
    """One model's class probabilities for one split, with labels and face ids.

    The constructor checks and converts its inputs, so an instance always satisfies the
    file format described in :mod:`emonet.predictions`.

    Parameters
    ----------
    probabilities : array-like of shape (n_samples, 7)
        Class probabilities, columns in the order of :data:`emonet.LABELS`. Stored as float32.
    labels : array-like of shape (n_samples,), optional
        True label indices in ``0 .. 6``, or ``-1`` where unknown. Default: all ``-1``.
    ids : sequence of str of length n_samples, optional
        Unique face ids. Default: the row numbers ``"0" .. "n_samples-1"``.
    model_name : str, default="model"
        Name of the model that made the predictions.

    Raises
    ------
    ValueError
        If any input does not fit the format; the message says what was expected.

    See Also
    --------
    load_predictions, save_predictions

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.predictions import Predictions
    >>> p = Predictions(np.full((2, 7), 1 / 7), labels=[3, -1], ids=["a", "b"], model_name="m")
    >>> p.n_samples, p.has_labels, p.labels.dtype
    (2, False, dtype('int64'))
    """

    probabilities: np.ndarray
    labels: np.ndarray | Sequence[int] | None = None
    ids: np.ndarray | Sequence[str] | None = None
    model_name: str = "model"

    def __post_init__(self) -> None:
        probabilities, labels, ids, model_name = _validated(
            self.probabilities, self.labels, self.ids, self.model_name, source="Predictions"
        )
        # frozen dataclass: replace the raw inputs with their checked, converted form
        object.__setattr__(self, "probabilities", probabilities)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "model_name", model_name)

    @property
    def n_samples(self) -> int:
        """Number of faces (rows)."""
        return int(self.probabilities.shape[0])

    @property
    def has_labels(self) -> bool:
        """Whether every face has a known label (no ``-1``)."""
        return bool(np.all(self.labels != UNKNOWN_LABEL))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the predictions to ``path`` as ``.npz``, atomically.

        The file is written under a temporary name in the same folder and then renamed,
        so a reader never sees a half-written file. Missing parent folders are created.

        Parameters
        ----------
        path : str or path-like
            Destination file; by convention it ends in ``.npz`` (no suffix is added).

        Returns
        -------
        pathlib.Path
            The path written.

        Examples
        --------
        >>> import numpy as np, tempfile, pathlib
        >>> from emonet.predictions import Predictions, load_predictions
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> p = Predictions(np.eye(7)[[0, 3]], labels=[0, 3], ids=["x", "y"], model_name="m")
        >>> out = p.save(folder / "val.npz")
        >>> load_predictions(out).ids.tolist()
        ['x', 'y']
        """
        path = Path(path)
        with atomic_open(path, "wb") as handle:
            np.savez_compressed(
                handle,
                probabilities=self.probabilities,
                labels=self.labels,
                ids=self.ids,
                model_name=np.array(self.model_name),
                format_version=np.array(FORMAT_VERSION, dtype=np.int64),
            )
        return path


def save_predictions(
    path: str | os.PathLike[str],
    probabilities: np.ndarray,
    labels: np.ndarray | Sequence[int] | None = None,
    ids: np.ndarray | Sequence[str] | None = None,
    *,
    model_name: str | None = None,
) -> Path:
    """Check predictions and write them to a ``.npz`` prediction file, atomically.

    Parameters
    ----------
    path : str or path-like
        Destination file; by convention it ends in ``.npz`` (no suffix is added).
    probabilities : array-like of shape (n_samples, 7)
        Class probabilities, columns in the order of :data:`emonet.LABELS`.
    labels : array-like of shape (n_samples,), optional
        True label indices in ``0 .. 6``, or ``-1`` where unknown. Default: all ``-1``.
    ids : sequence of str of length n_samples, optional
        Unique face ids. Default: the row numbers ``"0" .. "n_samples-1"``.
    model_name : str, optional
        Name of the model. Default: the file's stem (``val_resnet.npz`` -> ``val_resnet``).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        If the inputs do not fit the format (see :class:`Predictions`).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from emonet.predictions import save_predictions, load_predictions
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "val_model_a.npz"
    >>> _ = save_predictions(path, np.full((3, 7), 1 / 7), labels=[0, 1, 2])
    >>> load_predictions(path).model_name
    'val_model_a'
    """
    path = Path(path)
    name = path.stem if model_name is None else model_name
    return Predictions(probabilities, labels, ids, name).save(path)


def load_predictions(path: str | os.PathLike[str]) -> Predictions:
    """Read and check a ``.npz`` prediction file.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_predictions` (or any ``.npz`` with at least a
        ``probabilities`` array of shape ``(N, 7)``).

    Returns
    -------
    Predictions
        The checked contents.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a readable ``.npz`` archive or any array breaks the format
        (shape ``(N, 7)``, finite non-negative rows summing to 1, labels in ``-1 .. 6``,
        ``N`` unique ids). The message starts with the file's path.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from emonet.predictions import save_predictions, load_predictions
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "test.npz"
    >>> _ = save_predictions(path, np.eye(7)[[6, 3]], ids=["f1", "f2"], model_name="m")
    >>> p = load_predictions(path)
    >>> p.probabilities.shape, p.labels.tolist(), p.model_name
    ((2, 7), [-1, -1], 'm')
    """
    path = Path(path)
    if not path.is_file():
        if path.exists():
            raise ValueError(f"{path}: is not a file; expected a .npz prediction file")
        raise FileNotFoundError(f"{path}: no such prediction file")
    arrays = _load_arrays(path)
    if "probabilities" not in arrays:
        found = ", ".join(sorted(arrays)) or "nothing"
        raise ValueError(
            f"{path}: has no 'probabilities' array (found: {found}); a prediction file holds "
            f"'probabilities' of shape (N, {NUM_CLASSES}) and optionally 'labels' and 'ids'"
        )
    version = arrays.get("format_version")
    if version is not None and (
        version.shape != () or version.dtype.kind not in "iu" or int(version) != FORMAT_VERSION
    ):
        raise ValueError(
            f"{path}: format_version {version!r} is not supported; this emonet reads "
            f"version {FORMAT_VERSION} (a single integer)"
        )
    model_name: Any = arrays.get("model_name", path.stem)
    if isinstance(model_name, np.ndarray):
        if model_name.ndim != 0 or model_name.dtype.kind != "U":
            raise ValueError(
                f"{path}: 'model_name' must be a single string, got an array of dtype "
                f"{model_name.dtype} and shape {model_name.shape}"
            )
        model_name = str(model_name[()])
    probabilities, labels, ids, model_name = _validated(
        arrays["probabilities"],
        arrays.get("labels"),
        arrays.get("ids"),
        model_name,
        source=str(path),
    )
    return Predictions(probabilities, labels, ids, model_name)


#: The arrays a prediction file may hold; others are not read.
_KEYS = ("probabilities", "labels", "ids", "model_name", "format_version")


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of ``_KEYS`` in the ``.npz`` at ``path``; ValueError if it is damaged."""
    hint = "write prediction files with emonet.predictions.save_predictions"
    try:
        if not zipfile.is_zipfile(path):
            with path.open("rb") as stream:
                npy = stream.read(6) == b"\x93NUMPY"
            raise ValueError(
                "it holds a single .npy array, not a .npz archive" if npy else "not a zip archive"
            )
        with zipfile.ZipFile(path) as archive:
            # every member's checksum, so damaged bytes fail here instead of reading as
            # other numbers
            damaged = archive.testzip()
            listed = len(archive.infolist())
        if damaged is not None:
            raise ValueError(f"member {damaged!r} is damaged (bad checksum)")
        declared = _declared_members(path)
        # a damaged directory can hide members (labels, ids) without any other error
        if declared is not None and declared != listed:
            raise ValueError(f"its directory lists {listed} of its {declared} members")
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in _KEYS if key in npz.files}
    # Damaged bytes surface as a dozen types from zipfile, zlib and numpy's header parser
    # (BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError,
    # MemoryError for a header declaring a huge array, ...): all mean "unreadable file".
    except Exception as exc:
        reason = " ".join(f"{exc}".split()) or type(exc).__name__
        raise ValueError(
            f"{path}: not a readable .npz prediction file ({reason}); {hint}"
        ) from exc


def _declared_members(path: Path) -> int | None:
    """Member count of a zip's end record; None where zipfile has no such record to check.

    zipfile reads the directory by its size in bytes and ignores this count, so a damaged
    directory entry can make it list fewer members than the archive has.
    """
    end_record = b"PK\x05\x06"  # then 16 bytes; the total entry count at offset 10
    with path.open("rb") as stream:
        size = stream.seek(0, os.SEEK_END)
        # the end record (22 bytes) is followed by a comment of at most 65,535 bytes
        stream.seek(max(0, size - 22 - 0xFFFF))
        tail = stream.read()
    at = tail.rfind(end_record)
    if at < 0 or len(tail) - at < 22:
        return None
    (count,) = struct.unpack("<H", tail[at + 10 : at + 12])
    return None if count == 0xFFFF else count  # 0xFFFF: a ZIP64 count, checked by zipfile


def _validated(
    probabilities: Any, labels: Any, ids: Any, model_name: Any, *, source: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Check the four parts of a prediction set and return them in their stored dtypes."""
    if not isinstance(model_name, str) or not model_name.strip() or "\n" in model_name:
        raise ValueError(
            f"{source}: model_name must be a non-empty one-line string, got {model_name!r}"
        )

    probabilities = np.asarray(probabilities)
    if probabilities.dtype.kind not in "fiu":
        raise ValueError(
            f"{source}: 'probabilities' must be numeric, got dtype {probabilities.dtype}"
        )
    if probabilities.ndim != 2 or probabilities.shape[1] != NUM_CLASSES:
        raise ValueError(
            f"{source}: 'probabilities' has shape {probabilities.shape}; expected "
            f"(N, {NUM_CLASSES}), one column per label of emonet.LABELS {LABELS}"
        )
    n_samples = probabilities.shape[0]
    if n_samples == 0:
        raise ValueError(f"{source}: 'probabilities' has no rows; expected at least one face")
    values = probabilities.astype(np.float64)
    if not np.all(np.isfinite(values)):
        bad = int(np.count_nonzero(~np.isfinite(values).all(axis=1)))
        raise ValueError(f"{source}: 'probabilities' has {bad} rows with NaN or infinity")
    if values.min() < 0:
        raise ValueError(
            f"{source}: 'probabilities' has negative values (min {values.min():.3g}); "
            "store softmax probabilities, not logits"
        )
    deviation = np.abs(values.sum(axis=1) - 1.0)
    if deviation.max() > _ROW_SUM_TOLERANCE:
        row = int(deviation.argmax())
        raise ValueError(
            f"{source}: 'probabilities' row {row} sums to {values[row].sum():.6g}; every row "
            f"must sum to 1 (within {_ROW_SUM_TOLERANCE}); store softmax probabilities"
        )

    if labels is None:
        labels = np.full(n_samples, UNKNOWN_LABEL, dtype=np.int64)
    labels = np.asarray(labels)
    if labels.shape != (n_samples,):
        raise ValueError(
            f"{source}: 'labels' has shape {labels.shape}; expected ({n_samples},), "
            "one label per row of 'probabilities'"
        )
    if labels.dtype.kind not in "iu":
        raise ValueError(
            f"{source}: 'labels' must be integers (label indices, -1 when unknown), "
            f"got dtype {labels.dtype}"
        )
    out_of_range = (labels < UNKNOWN_LABEL) | (labels >= NUM_CLASSES)
    if out_of_range.any():
        raise ValueError(
            f"{source}: 'labels' holds {labels[out_of_range][0]} at row "
            f"{int(out_of_range.argmax())}; expected label indices 0..{NUM_CLASSES - 1} "
            f"or {UNKNOWN_LABEL} for unknown"
        )

    if ids is None:
        ids = np.arange(n_samples).astype(str)
    ids = np.asarray(ids)
    if ids.dtype.kind == "S":
        try:
            ids = np.char.decode(ids, "utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{source}: 'ids' are bytes but not UTF-8 text ({exc})") from exc
    elif ids.dtype.kind in "iu":
        ids = ids.astype(str)
    if ids.dtype.kind != "U" or ids.shape != (n_samples,):
        raise ValueError(
            f"{source}: 'ids' has dtype {ids.dtype} and shape {ids.shape}; expected "
            f"{n_samples} strings, one per row of 'probabilities'"
        )
    unique, counts = np.unique(ids, return_counts=True)
    if unique.size != n_samples:
        duplicated = unique[counts > 1]
        raise ValueError(
            f"{source}: 'ids' are not unique ({duplicated.size} repeated, e.g. "
            f"{str(duplicated[0])!r}); every face needs its own id"
        )

    return values.astype(np.float32), labels.astype(np.int64), ids, model_name
