"""Streaming readers: every supported input as one ordered sequence of records.

``fer2013.csv`` is parsed and validated row by row; image folders are listed (not
decoded) in a stable order, so a pipeline can cut the sequence into chunks, decode
them in worker processes and resume by chunk index.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emonet._constants import FACE_SIZE, LABELS, USAGES
from emonet.data._dataset import DataError
from emonet.data._images import IMAGE_EXTENSIONS
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
    file) is set.
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
        On a missing column or a bad row; the message names the line (the header is
        line 1) and what was expected.
    """
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as stream:
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


def _csv_record(path: Path, line: int, index: int, row: list[str], at: dict) -> Record:
    where = f"{path} line {line}"
    if len(row) <= max(at.values()):
        raise DataError(f"{where}: expected {len(at)} columns, got {len(row)}")
    emotion, usage = row[at["emotion"]].strip(), row[at["Usage"]].strip()
    if not emotion.isdigit() or int(emotion) >= len(LABELS):
        raise DataError(
            f"{where}: emotion must be an integer 0..{len(LABELS) - 1}, got {emotion!r}"
        )
    if usage not in USAGES:
        raise DataError(f"{where}: Usage must be one of {', '.join(USAGES)}, got {usage!r}")
    try:
        values = np.array(row[at["pixels"]].split(), dtype=np.int64)
    except ValueError:
        raise DataError(f"{where}: pixels must be space-separated integers") from None
    if values.size != _PIXELS:
        raise DataError(f"{where}: expected {_PIXELS} pixel values, got {values.size}")
    if values.min() < 0 or values.max() > 255:
        raise DataError(f"{where}: pixel values must lie in 0..255")
    pixels = values.astype(np.uint8).reshape(FACE_SIZE, FACE_SIZE)
    return Record(str(index), int(emotion), usage, pixels=pixels)


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )


def iter_fer2013_folder(root: str | os.PathLike) -> Iterator[Record]:
    """List a FER2013 image-folder release: ``<split>/<label>/<Usage>_<id>.jpg``.

    The file name's prefix gives the usage (``test/`` mixes PublicTest and PrivateTest);
    a name without a known prefix takes its split folder's usage.

    Raises
    ------
    DataError
        If a label folder is unknown or a file's usage cannot be told.
    """
    root = Path(root)
    for split in _fer2013_split_folders(root):
        for label_dir in sorted(d for d in split.iterdir() if d.is_dir()):
            label = label_index(label_dir.name)
            if label is None:
                raise DataError(
                    f"{label_dir}: unknown label folder {label_dir.name!r}; expected one of "
                    f"{', '.join(LABELS)}"
                )
            for file in _image_files(label_dir):
                prefix = file.stem.split("_", 1)[0]
                usage = prefix if prefix in USAGES else _SPLIT_USAGE.get(split.name.lower())
                if usage is None:
                    raise DataError(
                        f"{file}: cannot tell its FER2013 usage; expected a name like "
                        "PublicTest_<id>.jpg or PrivateTest_<id>.jpg in the test/ folder"
                    )
                yield Record(file.stem, label, usage, path=str(file))


def iter_image_folder(
    root: str | os.PathLike, skip_unknown_labels: bool = False, usage: str = ""
) -> tuple[list[Record], list[str]]:
    """List ``<root>/<label>/<image>``; returns the records and the skipped label folders.

    Raises
    ------
    DataError
        If a label folder names no FER2013 label (and ``skip_unknown_labels`` is False),
        or no image is found.
    """
    root = Path(root)
    records, unknown = [], []
    for label_dir in sorted(d for d in root.iterdir() if d.is_dir()):
        label = label_index(label_dir.name)
        if label is None:
            if not skip_unknown_labels:
                raise DataError(
                    f"{label_dir}: unknown label folder {label_dir.name!r}; expected a FER2013 "
                    f"label ({', '.join(LABELS)}) or a common spelling of one; pass "
                    "skip_unknown_labels=True (--skip-unknown-labels) to leave it out"
                )
            unknown.append(label_dir.name)
            continue
        for file in _image_files(label_dir):
            rel = file.relative_to(root).with_suffix("").as_posix()
            records.append(Record(rel, label, usage, path=str(file)))
    if not records:
        raise DataError(
            f"{root}: no images found; expected <label>/<image> files such as happy/001.jpg"
        )
    return records, unknown


def iter_records(
    path: str | os.PathLike, *, skip_unknown_labels: bool = False
) -> tuple[str, Iterator[Record], list[str]]:
    """Every face of an input, in a stable order: ``(kind, records, skipped_folders)``."""
    kind = input_kind(path)
    if kind == "csv":
        return kind, iter_csv(path), []
    if kind == "fer2013-folder":
        return kind, iter_fer2013_folder(path), []
    records, unknown = iter_image_folder(path, skip_unknown_labels)
    return kind, iter(records), unknown
