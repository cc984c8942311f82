"""The output folder of a distributed run: Parquet parts, the skipped table, the manifest.

Layout of ``OUTPUT/``::

    part-<unit>.parquet        the faces of one unit of work, columns of ROW_COLUMNS
    _skipped/<unit>.parquet    the unit's inputs that could not be read: source, reason
    _manifest/<unit>.json      the unit's inputs, done: path, size, mtime, content hash
    _emonet.json               the run's settings, checked when a run resumes

A unit's part and skipped table are written first, each atomically, then its manifest
entry, atomically: an input is done once its manifest entry exists, and a part without
one (a run stopped in between) is removed when the next run starts. Readers of the
folder (pandas, pyarrow, Spark, DuckDB) skip the names starting with ``_``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from emonet._constants import LABELS
from emonet._io import atomic_path, atomic_write_text

__all__ = [
    "SKIPPED_COLUMNS",
    "check_settings",
    "load_manifest",
    "read_output",
    "write_unit",
]

#: Columns of the skipped table.
SKIPPED_COLUMNS: tuple[str, ...] = ("source", "reason")
#: Name of the settings file.
SETTINGS_FILE = "_emonet.json"
SETTINGS_FORMAT = "emonet-distributed"
SETTINGS_VERSION = 1

_INTEGER_COLUMNS = {"frame", "face", "left", "top", "right", "bottom"}
_FLOAT_COLUMNS = {"time_s", "detection_score", "score", "confidence", *LABELS}
_STRING_COLUMNS = {"source", "label"}


def _arrow_type(name: str, values: list[Any]):
    import pyarrow as pa

    if name in _INTEGER_COLUMNS:
        return pa.int64()
    if name in _FLOAT_COLUMNS:
        return pa.float64()
    if name in _STRING_COLUMNS or name.endswith("label"):
        return pa.string()
    # a column added to the rows later (a track id, smoothed probabilities): by its values
    known = [value for value in values if value is not None]
    if not known:
        return pa.int64() if name.endswith("id") else pa.float64()
    if all(isinstance(value, bool) for value in known):
        return pa.bool_()
    if all(isinstance(value, int) and not isinstance(value, bool) for value in known):
        return pa.int64()
    if all(isinstance(value, int | float) and not isinstance(value, bool) for value in known):
        return pa.float64()
    return pa.string()


def rows_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]):
    """The rows (``Face.to_row`` dicts) as a pyarrow Table of ``columns``; the CSV's
    empty cells (``""``: no frame for a photo) become nulls."""
    import pyarrow as pa

    arrays, fields = [], []
    for name in columns:
        values = [row.get(name, "") for row in rows]
        values = [None if value == "" else value for value in values]
        kind = _arrow_type(name, values)
        if kind == pa.string():
            values = [None if value is None else str(value) for value in values]
        arrays.append(pa.array(values, type=kind))
        fields.append(pa.field(name, kind))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def skipped_table(skipped: Sequence[tuple[str, str]]):
    import pyarrow as pa

    # a file name that is no UTF-8 written with its odd bytes as \xNN, as in the rows
    sources = [os.fsencode(source).decode("utf-8", "backslashreplace") for source, _ in skipped]
    reasons = [os.fsencode(reason).decode("utf-8", "backslashreplace") for _, reason in skipped]
    return pa.table({"source": pa.array(sources, pa.string()), "reason": pa.array(reasons)})


def write_unit(
    output: Path,
    name: str,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    skipped: Sequence[tuple[str, str]],
    done: Sequence[dict[str, Any]],
) -> None:
    """Write one finished unit: its faces, its skipped inputs, then its manifest entry."""
    import pyarrow.parquet as pq

    with atomic_path(output / f"part-{name}.parquet", suffix=".parquet") as temporary:
        pq.write_table(rows_table(rows, columns), temporary)
    if skipped:
        with atomic_path(output / "_skipped" / f"{name}.parquet", suffix=".parquet") as temporary:
            pq.write_table(skipped_table(skipped), temporary)
    atomic_write_text(output / "_manifest" / f"{name}.json", json.dumps({"done": list(done)}))


def load_manifest(output: Path) -> dict[str, list[dict[str, Any]]]:
    """The inputs done by earlier runs, ``{path: [entries]}`` (a video has one entry per
    segment); the parts and skipped tables of units without a manifest entry (a run
    stopped between writing them) are removed, so that they are done again, once."""
    entries: dict[str, list[dict[str, Any]]] = {}
    finished = set()
    folder = output / "_manifest"
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            finished.add(path.stem)
            for entry in json.loads(path.read_text())["done"]:
                entries.setdefault(entry["path"], []).append(entry)
    for part in output.glob("part-*.parquet"):
        if part.stem[len("part-") :] not in finished:
            part.unlink()
    for part in (output / "_skipped").glob("*.parquet"):
        if part.stem not in finished:
            part.unlink()
    return entries


def check_settings(output: Path, settings: dict[str, Any], overwrite: bool) -> None:
    """Start ``output`` with ``settings``, or check that a resumed run uses the same."""
    import shutil

    file = output / SETTINGS_FILE
    if output.exists() and not output.is_dir():
        raise FileExistsError(f"{output}: exists and is not a folder; name a new output folder")
    if overwrite and file.is_file():
        shutil.rmtree(output)
    if file.is_file():
        before = json.loads(file.read_text())
        changed = [
            f"{key} was {before.get(key)!r}, now {value!r}"
            for key, value in settings.items()
            if before.get(key) != value
        ]
        if changed:
            raise ValueError(
                f"{output}: holds the results of a run with other settings "
                f"({'; '.join(changed)}); "
                "rerun with the same settings to resume, or pass overwrite=True "
                "(--overwrite) to start again"
            )
        return
    if output.is_dir() and any(output.iterdir()):
        raise FileExistsError(
            f"{output}: a folder that holds no emonet results; name a new or empty folder"
        )
    output.mkdir(parents=True, exist_ok=True)
    record = {"format": SETTINGS_FORMAT, "format_version": SETTINGS_VERSION, **settings}
    atomic_write_text(file, json.dumps(record, indent=1) + "\n")


def read_output(output: str | os.PathLike[str]) -> tuple[Any, Any]:
    """The faces and the skipped inputs of a distributed run's output folder.

    The parts are read in the order of their names, which is the inputs' order (a video's
    segments in time order), whichever worker finished first.

    Parameters
    ----------
    output : path
        The ``output`` folder of :func:`emonet.distributed.predict`.

    Returns
    -------
    faces : pyarrow.Table
        One row per face, the columns of ``emonet-predict --csv``
        (:data:`emonet.recognize.ROW_COLUMNS`); ``frame`` and ``time_s`` are null for
        photos. ``faces.to_pandas()`` gives a DataFrame.
    skipped : pyarrow.Table
        One row per input that could not be read: ``source``, ``reason``.

    Raises
    ------
    FileNotFoundError
        If ``output`` holds no results of :func:`emonet.distributed.predict`.

    Examples
    --------
    >>> from emonet.distributed import read_output
    >>> faces, skipped = read_output("faces.parquet")  # doctest: +SKIP
    >>> faces.to_pandas().groupby("label").size()  # doctest: +SKIP
    """
    import pyarrow.parquet as pq

    output = Path(output)
    if not (output / SETTINGS_FILE).is_file():
        raise FileNotFoundError(
            f"{output}: no results of emonet.distributed.predict (no {SETTINGS_FILE})"
        )
    columns = json.loads((output / SETTINGS_FILE).read_text())["columns"]
    faces = _concat([pq.read_table(p) for p in sorted(output.glob("part-*.parquet"))])
    skipped = _concat([pq.read_table(p) for p in sorted((output / "_skipped").glob("*.parquet"))])
    if faces is None:
        faces = rows_table([], columns)
    if skipped is None:
        skipped = skipped_table([])
    return faces.select(columns), skipped.select(list(SKIPPED_COLUMNS))


def _concat(tables: Iterable[Any]):
    import pyarrow as pa

    tables = list(tables)
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="permissive")
