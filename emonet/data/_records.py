"""Streaming readers: every supported input as one ordered sequence of records.

``fer2013.csv`` is parsed and validated row by row; image folders are listed (not
decoded) in a stable order, so a pipeline can cut the sequence into chunks, decode
them in worker processes and resume by chunk index. Ids are unique by construction:
the CSV's data row, or the file's path below the root.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emonet._constants import FACE_SIZE, LABELS, USAGES
from emonet._image import IMAGE_EXTENSIONS
from emonet.data._dataset import DataError
from emonet.data._labels import label_index

CSV_COLUMNS = ("emotion", "pixels", "Usage")
_PIXELS = FACE_SIZE * FACE_SIZE
_SPLIT_USAGE = {
    "train": "Training",
    "training": "Training",
    "val": "PublicTest",
    "valid": "PublicTest",
    "validation": "PublicTest",
    "publictest": "PublicTest",
    "privatetest": "PrivateTest",
}


@dataclass(frozen=True)
class Record:
    """One face of an input, before decoding.

    Exactly one of ``pixels`` (a 48x48 uint8 face, from a CSV) and ``path`` (an image
    file) is set. ``id`` is the CSV's zero-based data row, or the file's path below the
    root with ``/`` separators (``"val/happy/PublicTest_10001.jpg"``).
    """

    id: str
    label: int
    usage: str
    pixels: np.ndarray | None = None
    path: str | None = None


def input_kind(path: str | os.PathLike) -> str:
    """``"csv"``, ``"fer2013-folder"`` or ``"image-folder"``.

    Raises
    ------
    DataError
        If the path does not exist or is neither a CSV file nor a folder.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise DataError(
                f"{path}: expected a fer2013.csv file or a folder of images, got a "
                f"{path.suffix or 'extensionless'} file"
            )
        return "csv"
    if _fer2013_split_folders(path):
        return "fer2013-folder"
    return "image-folder"


def _fer2013_split_folders(root: Path) -> list[Path]:
    """The split folders (train/, test/, val/...) of a FER2013 image-folder release."""
    splits = []
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name.lower() in {*_SPLIT_USAGE, "test"}:
            has_labels = any(
                d.is_dir() and label_index(d.name) is not None for d in child.iterdir()
            )
            if has_labels:
                splits.append(child)
    return splits


def iter_csv(path: str | os.PathLike) -> Iterator[Record]:
    """Stream and validate the rows of ``fer2013.csv``.

    Raises
    ------
    DataError
        On a missing column, a bad row or no row at all; the message names the line
        (the header is line 1) and what was expected.
    """
    path = Path(path)
    # utf-8-sig: spreadsheet programs start their CSV files with a byte-order mark
    with open(path, newline="", encoding="utf-8-sig") as stream:
        reader = csv.reader(stream)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(
                f"{path}: empty file; expected a header {','.join(CSV_COLUMNS)}"
            ) from None
        except (UnicodeDecodeError, csv.Error) as error:
            raise DataError(f"{path} line 1: not a readable CSV header ({error})") from None
        header = [h.strip() for h in header]
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            raise DataError(
                f"{path} line 1: missing column(s) {', '.join(missing)}; expected the "
                f"fer2013.csv columns {','.join(CSV_COLUMNS)}, got {','.join(header)}"
            )
        at = {c: header.index(c) for c in CSV_COLUMNS}
        index = 0
        try:
            for row in reader:
                line = reader.line_num
                if not row:
                    continue
                yield _csv_record(path, line, index, row, at)
                index += 1
        except (UnicodeDecodeError, csv.Error) as error:
            raise DataError(f"{path} line {reader.line_num + 1}: unreadable ({error})") from None
        if index == 0:
            raise DataError(f"{path}: no data rows after the header; expected one row per face")


def _csv_record(path: Path, line: int, index: int, row: list[str], at: dict) -> Record:
    where = f"{path} line {line}"
    if len(row) <= max(at.values()):
        raise DataError(f"{where}: expected {len(at)} columns, got {len(row)}")
    emotion, usage = row[at["emotion"]].strip(), row[at["Usage"]].strip()
    # isdigit alone accepts "²" and "٣", which int() then refuses or reads
    if not (emotion.isascii() and emotion.isdigit()) or int(emotion) >= len(LABELS):
        raise DataError(
            f"{where}: emotion must be an integer 0..{len(LABELS) - 1}, got {_short(emotion)}"
        )
    if usage not in USAGES:
        raise DataError(f"{where}: Usage must be one of {', '.join(USAGES)}, got {_short(usage)}")
    pixels = row[at["pixels"]]
    try:
        if not pixels.isascii():
            raise ValueError
        values = np.array(pixels.split(), dtype=np.int64)
    except (ValueError, OverflowError):
        raise DataError(f"{where}: pixels must be space-separated integers 0..255") from None
    if values.size != _PIXELS:
        raise DataError(f"{where}: expected {_PIXELS} pixel values, got {values.size}")
    if values.min() < 0 or values.max() > 255:
        raise DataError(f"{where}: pixel values must lie in 0..255")
    pixels = values.astype(np.uint8).reshape(FACE_SIZE, FACE_SIZE)
    return Record(str(index), int(emotion), usage, pixels=pixels)


def _short(value: str, limit: int = 40) -> str:
    """``repr`` of a field, cut short: a message stays one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _image_files(folder: Path) -> list[Path]:
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    for file in files:
        try:
            str(file).encode("utf-8")
        except UnicodeEncodeError:
            # ids are stored as UTF-8 text; a name of other bytes could not be
            raise DataError(
                f"{ascii(str(file))}: the file name is not valid UTF-8; rename the file"
            ) from None
    return files


def _relative_id(file: Path, root: Path) -> str:
    return file.relative_to(root).as_posix()


def _label_folders(
    parent: Path, skip_unknown_labels: bool, where: str
) -> tuple[list[tuple[Path, int]], list[str]]:
    """The label folders of ``parent`` with their label, and the unknown ones' names."""
    known, unknown = [], []
    for label_dir in sorted(d for d in parent.iterdir() if d.is_dir()):
        label = label_index(label_dir.name)
        if label is not None:
            known.append((label_dir, label))
        elif skip_unknown_labels:
            unknown.append(label_dir.name if not where else f"{where}/{label_dir.name}")
        else:
            raise DataError(
                f"{label_dir}: unknown label folder {label_dir.name!r}; expected a FER2013 "
                f"label ({', '.join(LABELS)}) or a common spelling of one; pass "
                "skip_unknown_labels=True (--skip-unknown-labels) to leave it out"
            )
    return known, unknown


def iter_fer2013_folder(
    root: str | os.PathLike, skip_unknown_labels: bool = False
) -> tuple[Iterator[Record], list[str]]:
    """List a FER2013 image-folder release: ``<split>/<label>/<Usage>_<id>.jpg``.

    The file name's prefix gives the usage (``test/`` mixes PublicTest and PrivateTest);
    a name without a known prefix takes its split folder's usage. Label folders are
    checked at once; files are listed split by split as the records are consumed.

    Returns
    -------
    records : iterator of Record
        Ids are the paths below ``root`` (``"train/angry/Training_8475486.jpg"``): the
        release holds the same file name in two label folders.
    unknown : list of str
        The label folders left out as unknown, as ``"<split>/<name>"``.

    Raises
    ------
    DataError
        If a label folder is unknown (and ``skip_unknown_labels`` is False), a file's
        usage cannot be told, or (while iterating) no image is found.
    """
    root = Path(root)
    folders, unknown = [], []
    for split in _fer2013_split_folders(root):
        known, skipped = _label_folders(split, skip_unknown_labels, split.name)
        folders += [(split, label_dir, label) for label_dir, label in known]
        unknown += skipped
    return _fer2013_records(root, folders), unknown


def _fer2013_records(root: Path, folders: list[tuple[Path, Path, int]]) -> Iterator[Record]:
    found = False
    for split, label_dir, label in folders:
        for file in _image_files(label_dir):
            prefix = file.stem.split("_", 1)[0]
            usage = prefix if prefix in USAGES else _SPLIT_USAGE.get(split.name.lower())
            if usage is None:
                raise DataError(
                    f"{file}: cannot tell its FER2013 usage; expected a name like "
                    "PublicTest_<id>.jpg or PrivateTest_<id>.jpg in the test/ folder"
                )
            found = True
            yield Record(_relative_id(file, root), label, usage, path=str(file))
    if not found:
        raise DataError(
            f"{root}: no images found in the FER2013 layout; expected files such as "
            "train/happy/Training_1.jpg"
        )


def iter_image_folder(
    root: str | os.PathLike, skip_unknown_labels: bool = False, usage: str = ""
) -> tuple[list[Record], list[str]]:
    """List ``<root>/<label>/<image>``; returns the records and the skipped label folders.

    Ids are the paths below ``root`` (``"happy/img001.jpg"``), unique by construction.

    Raises
    ------
    DataError
        If a label folder names no FER2013 label (and ``skip_unknown_labels`` is False),
        or no image is found.
    """
    root = Path(root)
    known, unknown = _label_folders(root, skip_unknown_labels, "")
    records = [
        Record(_relative_id(file, root), label, usage, path=str(file))
        for label_dir, label in known
        for file in _image_files(label_dir)
    ]
    if not records:
        raise DataError(
            f"{root}: no images found; expected <label>/<image> files such as happy/001.jpg"
        )
    return records, unknown


def iter_records(
    path: str | os.PathLike, *, skip_unknown_labels: bool = False
) -> tuple[str, Iterator[Record], list[str]]:
    """Every face of an input, in a stable order.

    Parameters
    ----------
    path : str or path-like
        ``fer2013.csv``, a FER2013 image-folder release or a ``<label>/<image>`` folder.
    skip_unknown_labels : bool, optional
        Leave out label folders that name no FER2013 label instead of raising.

    Returns
    -------
    kind : str
        ``"csv"``, ``"fer2013-folder"`` or ``"image-folder"`` (see :func:`input_kind`).
    records : iterator of Record
        Lazy: a bad CSV row, or an empty input, raises while iterating.
    skipped_folders : list of str
        Label folders left out as unknown.

    Raises
    ------
    DataError
        If the input is missing or not one of the layouts, or a label folder is unknown.
    """
    kind = input_kind(path)
    if kind == "csv":
        return kind, iter_csv(path), []
    if kind == "fer2013-folder":
        records, unknown = iter_fer2013_folder(path, skip_unknown_labels)
        return kind, records, unknown
    records, unknown = iter_image_folder(path, skip_unknown_labels)
    return kind, iter(records), unknown
