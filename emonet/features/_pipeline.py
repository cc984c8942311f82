"""Extracting the features of a whole dataset into one file: parallel, streaming,
resumable."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np

from emonet._constants import FACE_SIZE
from emonet.data import DataError, ImageError, Record, decode_record, iter_records
from emonet.features._extractor import FeatureExtractor
from emonet.features._store import FeatureFileWriter

_PART = "chunk_{:06d}.npz"
_MANIFEST = "manifest.json"


@dataclass
class ExtractionReport:
    """What :func:`extract_to_file` did.

    Attributes
    ----------
    output : Path
        The features file.
    n_faces : int
        Rows written.
    usage_counts : dict
        Rows per usage.
    skipped : list of (id, reason)
        Inputs left out (unreadable images, no face found).
    skipped_label_folders : list of str
        Label folders left out as unknown.
    resumed_chunks : int
        Chunks found finished by an earlier, interrupted run.
    seconds : float
        Wall time.
    """

    output: Path
    n_faces: int = 0
    usage_counts: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    skipped_label_folders: list = field(default_factory=list)
    resumed_chunks: int = 0
    seconds: float = 0.0


def default_jobs() -> int:
    """The number of CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _count_csv_rows(path: Path) -> int:
    with open(path, "rb") as stream:
        lines = sum(block.count(b"\n") for block in iter(lambda: stream.read(1 << 22), b""))
    return max(0, lines - 1)


def _chunks(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    while chunk := list(islice(records, size)):
        yield chunk


def _init_worker() -> None:
    """Pin each worker to one thread so that N workers use N cores, not N squared."""
    global _THREAD_LIMITS
    import cv2
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)
    _THREAD_LIMITS = threadpool_limits(limits=1)  # kept alive for the worker's life
    from emonet.features._dlib_models import shape_predictor

    shape_predictor()


def _extract_chunk(
    index: int, chunk: list[Record], parts: str, params: dict, detect_faces: bool
) -> dict:
    """Decode and extract one chunk, write it as a part file; return a short summary."""
    images, kept, skipped = [], [], []
    for record in chunk:
        try:
            images.append(decode_record(record, detect_faces))
            kept.append(record)
        except ImageError as error:
            skipped.append((record.path or record.id, str(error)))
    extractor = FeatureExtractor(**params)
    if images:
        features = extractor.transform(np.stack(images))
    else:
        features = np.empty((0, extractor.n_features_out), np.float32)
    part = {
        "images": np.stack(images) if images else np.empty((0, FACE_SIZE, FACE_SIZE), np.uint8),
        "features": features,
        "labels": np.array([r.label for r in kept], dtype=np.int64),
        "usage": np.array([r.usage for r in kept], dtype=str),
        "ids": np.array([r.id for r in kept], dtype=str),
        "skipped_ids": np.array([s[0] for s in skipped], dtype=str),
        "skipped_reasons": np.array([s[1] for s in skipped], dtype=str),
    }
    final = Path(parts) / _PART.format(index)
    tmp = final.with_suffix(".tmp.npz")
    np.savez(tmp, **part)
    os.replace(tmp, final)  # a part file exists only once complete
    return _part_summary(part)


def _part_summary(part) -> dict:
    return {
        "usage": Counter(part["usage"].tolist()),
        "skipped": list(
            zip(part["skipped_ids"].tolist(), part["skipped_reasons"].tolist(), strict=False)
        ),
    }


def _prepare_parts(parts: Path, manifest: dict, output: Path, resume: bool, overwrite: bool):
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists; pass overwrite=True (--overwrite) to replace it")
    if parts.exists():
        if resume:
            try:
                found = json.loads((parts / _MANIFEST).read_text())
            except (OSError, ValueError):
                found = None
            if found != manifest:
                raise DataError(
                    f"{parts} holds a run with other input or settings; start over with "
                    "overwrite=True (--overwrite)"
                )
            return
        if not overwrite:
            raise FileExistsError(
                f"{parts} holds an interrupted run; pass resume=True (--resume) to continue "
                "it, or overwrite=True (--overwrite) to start over"
            )
        shutil.rmtree(parts)
    parts.mkdir(parents=True)
    tmp = parts / (_MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, parts / _MANIFEST)


def extract_to_file(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    jobs: int | None = None,
    chunk_size: int = 1024,
    resume: bool = False,
    overwrite: bool = False,
    detect_faces: bool = False,
    skip_unknown_labels: bool = False,
    extractor: FeatureExtractor | None = None,
    progress: bool = True,
) -> ExtractionReport:
    """Extract the features of every face of an input into one HDF5 file.

    The input is streamed in chunks of ``chunk_size`` faces, processed by ``jobs``
    worker processes; each finished chunk is saved at once beside the output (in
    ``OUTPUT.parts/``), so an interrupted run continues with ``resume=True`` from the
    chunks it finished, no row lost or doubled. The output is assembled under a
    temporary name and renamed at the end. Images that cannot be used are skipped,
    counted and recorded in the file.

    Parameters
    ----------
    input_path : str or path-like
        ``fer2013.csv``, a FER2013 image-folder release, or any ``<label>/<image>``
        folder (see :mod:`emonet.data`).
    output_path : str or path-like
        The ``.h5`` file to write.
    jobs : int, optional
        Worker processes; default all available cores. 1 runs in this process.
    chunk_size : int, optional
        Faces per chunk: the unit of work, of memory and of resumption.
    resume : bool, optional
        Continue an interrupted run into the same output.
    overwrite : bool, optional
        Replace an existing output (and discard an interrupted run).
    detect_faces : bool, optional
        For image folders of photos: detect, align and crop the largest face.
    skip_unknown_labels : bool, optional
        Leave out label folders that name no FER2013 label instead of failing.
    extractor : FeatureExtractor, optional
        The extractor's parameters; default the paper's.
    progress : bool, optional
        Show a progress bar on stderr.

    Returns
    -------
    ExtractionReport

    Raises
    ------
    DataError
        If the input is missing or malformed (a bad CSV row names its line).
    FileExistsError
        If the output or an interrupted run exists and neither ``overwrite`` nor
        ``resume`` says what to do.

    Examples
    --------
    >>> from emonet.features import extract_to_file
    >>> report = extract_to_file("fer2013.csv", "fer2013.h5")  # doctest: +SKIP
    >>> report.n_faces  # doctest: +SKIP
    35887
    """
    from tqdm.auto import tqdm

    from emonet import __version__

    start = time.perf_counter()
    input_path, output = Path(input_path), Path(output_path)
    extractor = FeatureExtractor() if extractor is None else extractor
    extractor.fit()
    params = extractor.get_params()
    jobs = default_jobs() if jobs is None else int(jobs)
    if jobs < 1 or chunk_size < 1:
        raise ValueError(f"jobs and chunk_size must be positive, got {jobs} and {chunk_size}")

    kind, records, unknown_folders = iter_records(
        input_path, skip_unknown_labels=skip_unknown_labels
    )
    if kind == "csv":
        total = _count_csv_rows(input_path)
    else:
        records = list(records)
        total = len(records)
        records = iter(records)
    manifest = {
        "input": str(input_path.resolve()),
        "kind": kind,
        "chunk_size": chunk_size,
        "extractor": params,
        "detect_faces": detect_faces,
        "skip_unknown_labels": skip_unknown_labels,
        "emonet_version": __version__,
    }
    parts = output.with_name(output.name + ".parts")
    _prepare_parts(parts, manifest, output, resume, overwrite)

    report = ExtractionReport(output, skipped_label_folders=unknown_folders)
    usage: Counter = Counter()
    attrs = {
        "emonet_version": __version__,
        "source": str(input_path),
        "source_kind": kind,
        "detect_faces": detect_faces,
        "feature_layout": "landmarks x0,y0,...,x67,y67 (136) then sliding-window HOG",
        **{f"hog_{k}": v for k, v in params.items()},
    }
    # Parts are the durable record (resume reads them); the output file is appended
    # in input order as parts finish, while the workers run.
    writer = FeatureFileWriter(output, attrs, extractor.n_features_out)
    finished: set[int] = set()
    appended = 0

    def collect(index: int, summary: dict) -> None:
        nonlocal appended
        usage.update(summary["usage"])
        report.skipped.extend(summary["skipped"])
        finished.add(index)
        while appended in finished:
            with np.load(parts / _PART.format(appended)) as part:
                writer.append(part)
            finished.discard(appended)
            appended += 1

    bar = tqdm(total=total, unit="face", desc="extracting", disable=not progress, smoothing=0.1)
    executor = ProcessPoolExecutor(jobs, initializer=_init_worker) if jobs > 1 else None
    pending: dict[Future, tuple[int, int]] = {}

    def collect_finished() -> None:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in sorted(done, key=lambda f: pending[f][0]):
            index, size = pending.pop(future)
            collect(index, future.result())
            bar.update(size)

    try:
        for index, chunk in enumerate(_chunks(records, chunk_size)):
            done_part = parts / _PART.format(index)
            if done_part.exists():
                with np.load(done_part) as part:
                    collect(index, _part_summary(part))
                report.resumed_chunks += 1
                bar.update(len(chunk))
            elif executor is None:
                collect(index, _extract_chunk(index, chunk, str(parts), params, detect_faces))
                bar.update(len(chunk))
            else:
                # a bounded window of chunks in flight keeps memory flat on any input size
                while len(pending) >= 2 * jobs:
                    collect_finished()
                future = executor.submit(
                    _extract_chunk, index, chunk, str(parts), params, detect_faces
                )
                pending[future] = (index, len(chunk))
        while pending:
            collect_finished()
        writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        bar.close()
        if executor is not None:
            executor.shutdown(cancel_futures=True)
    shutil.rmtree(parts)
    report.n_faces = writer.n_rows
    report.usage_counts = dict(usage)
    report.seconds = time.perf_counter() - start
    return report
