"""Loading whole datasets into memory."""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np

from emonet._constants import FACE_SIZE
from emonet._image import ImageError, read_face
from emonet.data._dataset import DataError, Dataset, Skipped, check_usages
from emonet.data._records import (
    Record,
    input_kind,
    iter_csv,
    iter_fer2013_folder,
    iter_image_folder,
)


def decode_record(record: Record) -> np.ndarray:
    """The 48x48 uint8 face of a record: its CSV pixels, or its image file read as a
    face crop (centred square, resized).

    Raises
    ------
    ImageError
        If the record's image file cannot be used.
    """
    if record.pixels is not None:
        return record.pixels
    return read_face(record.path)


def _collect(records: Iterable[Record]) -> Dataset:
    images, labels, usage, ids, skipped = [], [], [], [], []
    for record in records:
        try:
            images.append(decode_record(record))
        except ImageError as error:
            skipped.append(Skipped(record.path or record.id, str(error)))
            continue
        labels.append(record.label)
        usage.append(record.usage)
        ids.append(record.id)
    images = np.stack(images) if images else np.empty((0, FACE_SIZE, FACE_SIZE), np.uint8)
    return Dataset(images, labels, usage, ids, skipped)


def load_fer2013(
    path: str | os.PathLike,
    usage: str | list[str] | None = None,
    *,
    skip_unknown_labels: bool = False,
) -> Dataset:
    """Load FER2013 from ``fer2013.csv`` or from a folder of its images.

    Accepted layouts:

    * the original ``fer2013.csv`` with columns ``emotion,pixels,Usage`` (streamed and
      validated row by row);
    * the Kaggle image-folder release, ``train/<label>/Training_<id>.jpg`` and
      ``test/<label>/PublicTest_<id>.jpg`` / ``PrivateTest_<id>.jpg`` (the file name's
      prefix gives the usage);
    * the same with a ``val/`` folder in place of ``test/``.

    Parameters
    ----------
    path : str or path-like
        The CSV file or the folder holding the split folders.
    usage : str or list of str, optional
        Keep only these usages (``"Training"``, ``"PublicTest"``, ``"PrivateTest"``).
    skip_unknown_labels : bool, optional
        Image folders: leave out label folders that name no FER2013 label instead of
        raising.

    Returns
    -------
    Dataset
        ``images`` (N, 48, 48) uint8, ``labels``, ``usage``, ``ids`` (the CSV's data row,
        or the image's path below ``path``); unreadable image files are left out and
        listed in ``skipped``.

    Raises
    ------
    DataError
        If the path is missing or not in a FER2013 layout, holds no face, or a CSV row
        is bad (the message gives its line number; the header is line 1).

    Examples
    --------
    >>> from emonet.data import load_fer2013
    >>> val = load_fer2013("../shared/data/fer2013", usage="PublicTest")  # doctest: +SKIP
    >>> val.images.shape  # doctest: +SKIP
    (3589, 48, 48)
    """
    kind = input_kind(path)
    if kind == "image-folder":
        raise DataError(
            f"{path}: not a FER2013 layout; expected fer2013.csv or a folder with train/ and "
            "test/ (or val/) label folders. For other datasets use load_image_folder."
        )
    wanted = None if usage is None else check_usages(usage)
    if kind == "csv":
        records = iter_csv(path)
    else:
        records, _ = iter_fer2013_folder(path, skip_unknown_labels)
    if usage is not None:
        records = (r for r in records if r.usage in wanted)
    return _collect(records)


def load_image_folder(
    path: str | os.PathLike,
    *,
    skip_unknown_labels: bool = False,
    usage: str = "",
) -> Dataset:
    """Load a dataset of face crops laid out as ``<root>/<label>/<image>``.

    Images of any size, colour or bit depth become 48x48 grayscale faces: each is taken
    as a face crop, its centred square resized, which suits FER-style datasets. Images
    under 16 pixels on a side are skipped. For photos, find the faces with
    ``emonet.features``: ``extract_to_file(path, out, detect_faces=True)``
    (``emonet-extract-features --detect-faces``) stores the aligned crops with their
    features.

    Label folders may use common spellings (``anger``/``angry``, ``happiness``/``happy``,
    ``sadness``/``sad``, ``surprised``/``surprise``, ``neutrality``/``neutral``, FER2013's
    numbers ``0``..``6``, ...); see ``emonet.data.LABEL_ALIASES``.

    Parameters
    ----------
    path : str or path-like
        The root folder.
    skip_unknown_labels : bool, optional
        Leave out label folders that name no FER2013 label (e.g. ``contempt``) instead
        of raising.
    usage : str, optional
        Usage recorded for every face (default ``""``, unspecified).

    Returns
    -------
    Dataset
        Faces in a stable order; ids are the paths below the root
        (``"happy/img001.jpg"``). Unreadable or too small images are listed in
        ``skipped``.

    Raises
    ------
    DataError
        If the folder is missing or empty, or a label folder is unknown.

    Examples
    --------
    >>> from emonet.data import load_image_folder
    >>> faces = load_image_folder("ck_plus/", skip_unknown_labels=True)  # doctest: +SKIP
    """
    if input_kind(path) == "csv":
        raise DataError(f"{path}: a CSV file; use load_fer2013 for fer2013.csv")
    check_usages(usage)
    records, _ = iter_image_folder(path, skip_unknown_labels, usage)
    return _collect(records)
