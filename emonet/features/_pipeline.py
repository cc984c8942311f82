"""Extracting the features of a whole dataset into one file: parallel, streaming,
resumable.

How a run survives being stopped
--------------------------------
Each finished chunk is saved at once, atomically, as a part file in ``OUTPUT.parts/``,
beside a manifest of the run's settings and a fingerprint of its input (file names,
sizes and modification times, or the CSV's size and SHA-256). A resumed run checks
both, keeps the parts that are whole and redoes damaged ones. A run that finished no
chunk, or that a malformed input stopped (no resume could continue it: the input has to
change), leaves no part folder behind. Worker processes end with the process that
started them (Linux: ``PR_SET_PDEATHSIG``; elsewhere a watchdog thread), so a killed run
leaves nothing running, and the features file is written under a temporary name that
the next run removes.
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path

import numpy as np

from emonet._constants import FACE_SIZE
from emonet._image import read_grayscale
from emonet._io import atomic_open, atomic_write_text
from emonet.data import DataError, ImageError, Record, decode_record, iter_records
from emonet.features._extractor import FeatureExtractor
from emonet.features._faces import DETECTORS, check_detection, crop_faces
from emonet.features._store import FeatureFileWriter

_PART = "chunk_{:06d}.npz"
_MANIFEST = "manifest.json"
_FINGERPRINT = "input.json"
_PART_KEYS = ("images", "features", "labels", "usage", "ids", "skipped_ids", "skipped_reasons")
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


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
        Inputs left out (unreadable or too small images, no face found).
    skipped_label_folders : list of str
        Label folders left out as unknown.
    resumed_chunks : int
        Chunks found finished by an earlier, interrupted run.
    redone_chunks : int
        Chunks of an earlier run whose part file was damaged, extracted again.
    seconds : float
        Wall time.
    """

    output: Path
    n_faces: int = 0
    usage_counts: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    skipped_label_folders: list = field(default_factory=list)
    resumed_chunks: int = 0
    redone_chunks: int = 0
    seconds: float = 0.0


def default_jobs() -> int:
    """The number of CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _scan_csv(path: Path) -> tuple[int, dict]:
    """Data rows (for the progress bar) and the fingerprint of a CSV, in one read."""
    digest, lines = hashlib.sha256(), 0
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 22), b""):
            digest.update(block)
            lines += block.count(b"\n")
        size = os.fstat(stream.fileno()).st_size
    return max(0, lines - 1), {"size": size, "sha256": digest.hexdigest()}


def _fingerprint_files(records: list[Record]) -> dict:
    """Relative name -> [size, mtime in ns] of every listed file (None if unreadable)."""
    files = {}
    for record in records:
        try:
            stat = os.stat(record.path)
            files[record.id] = [stat.st_size, stat.st_mtime_ns]
        except OSError:
            files[record.id] = None  # the reader skips it and says why
    return {"files": files}


def _input_change(before: dict, after: dict) -> str:
    """What differs between two fingerprints, in a few words ("" if nothing)."""
    if before == after:
        return ""
    if "files" not in before or "files" not in after:
        if before.get("size") != after.get("size"):
            return f"its size went from {before.get('size')} to {after.get('size')} bytes"
        return "its content differs (another SHA-256)"
    old, new = before["files"], after["files"]
    changes = []
    for word, names in (
        ("added", sorted(new.keys() - old.keys())),
        ("removed", sorted(old.keys() - new.keys())),
        ("modified", sorted(k for k in new.keys() & old.keys() if new[k] != old[k])),
    ):
        if names:
            shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
            changes.append(f"{len(names)} file(s) {word} ({shown})")
    return "; ".join(changes)


def _chunks(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    while chunk := list(islice(records, size)):
        yield chunk


def _unwritable(path: Path, error: OSError) -> OSError:
    """The same error, naming ``path`` (not a temporary file) as the one not written.

    ``OSError(errno, ...)`` keeps the type: EACCES gives a PermissionError again.
    """
    if error.errno is None:
        return OSError(f"cannot write {path}: {error}")
    return OSError(error.errno, error.strerror or os.strerror(error.errno), str(path))


def _worker_context() -> multiprocessing.context.BaseContext:
    # spawn, not fork: a forked worker inherits the parent's thread pools (OpenCV's,
    # OpenMP's) in whatever state they were, and deadlocks in its first cv2 call if the
    # parent had used them; spawned workers are also direct children, as
    # _die_with_parent checks
    return multiprocessing.get_context("spawn")


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _die_with_parent(parent: int) -> None:
    """End this worker when the process that started it ends, however it ends.

    A worker left behind by a killed run would go on computing and hold its files.
    """
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def _init_worker(parent: int) -> None:
    """Tie the worker to its parent; pin it to one thread so that N workers use N
    cores, not N squared."""
    global _THREAD_LIMITS
    _die_with_parent(parent)
    # Ctrl-C reaches the whole process group: the parent alone decides what stops; and
    # terminate() must end a worker, not fail its task in a handler the worker inherited
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    import cv2
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)
    _THREAD_LIMITS = threadpool_limits(limits=1)  # kept alive for the worker's life
    from emonet.features._dlib_models import shape_predictor

    shape_predictor()


def _stop_workers(executor: ProcessPoolExecutor) -> None:
    """End the workers now, mid-chunk: what they finished is on disk already."""
    terminate = getattr(executor, "terminate_workers", None)  # Python 3.14+
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        process.terminate()


def _decode(record: Record, detection: dict | None) -> np.ndarray:
    """The 48x48 face of a record; with ``detection`` (the keywords of
    :func:`crop_faces`), the largest face of a photo."""
    if detection is None or record.pixels is not None:
        return decode_record(record)
    faces, _ = crop_faces(read_grayscale(record.path), largest_only=True, **detection)
    if len(faces) == 0:
        raise ImageError("no face found")
    return faces[0]


def _extract_chunk(
    index: int, chunk: list[Record], parts: str, params: dict, detection: dict | None
) -> dict:
    """Decode and extract one chunk, write it as a part file; return a short summary."""
    images, kept, skipped = [], [], []
    for record in chunk:
        try:
            images.append(_decode(record, detection))
            kept.append(record)
        except ImageError as error:
            skipped.append((record.path or record.id, str(error)))
    extractor = FeatureExtractor(**params)
    images = np.stack(images) if images else np.empty((0, FACE_SIZE, FACE_SIZE), np.uint8)
    part = {
        "images": images,
        "features": extractor.transform(images),
        "labels": np.array([r.label for r in kept], dtype=np.int64),
        "usage": np.array([r.usage for r in kept], dtype=str),
        "ids": np.array([r.id for r in kept], dtype=str),
        "skipped_ids": np.array([s[0] for s in skipped], dtype=str),
        "skipped_reasons": np.array([s[1] for s in skipped], dtype=str),
    }
    path = Path(parts) / _PART.format(index)
    try:
        with atomic_open(path, "wb") as stream:  # a part file exists only once complete
            np.savez(stream, **part)
    except OSError as error:
        raise _unwritable(path, error) from None
    return _part_summary(part)


def _part_summary(part) -> dict:
    return {
        "usage": Counter(part["usage"].tolist()),
        "skipped": list(
            zip(part["skipped_ids"].tolist(), part["skipped_reasons"].tolist(), strict=False)
        ),
    }


def _read_part(path: Path, chunk: list[Record], n_features: int) -> dict | None:
    """The arrays of a finished part, or None if it is damaged or not of this chunk."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            part = {key: stored[key] for key in _PART_KEYS}
    except Exception:  # a damaged zip raises any of a dozen types; the chunk is redone
        return None
    n = len(part["ids"])
    kept = set(part["ids"].tolist())
    expected = [r for r in chunk if r.id in kept]
    whole = (
        part["images"].shape == (n, FACE_SIZE, FACE_SIZE)
        and part["images"].dtype == np.uint8
        and part["features"].shape == (n, n_features)
        and part["features"].dtype == np.float32
        and part["usage"].shape == (n,)
        and len(part["skipped_ids"]) == len(part["skipped_reasons"]) == len(chunk) - n
        and part["ids"].tolist() == [r.id for r in expected]
        and part["labels"].tolist() == [r.label for r in expected]
    )
    return part if whole else None


def _prepare_parts(
    parts: Path,
    manifest: dict,
    fingerprint: dict,
    input_path: Path,
    output: Path,
    resume: bool,
    overwrite: bool,
) -> None:
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists; pass overwrite=True (--overwrite) to replace it")
    if not resume and _holds_no_chunk(parts):
        # a run killed before its first chunk: nothing to resume, so nothing to refuse
        # (a resume still checks that it continues a run of the same input and settings)
        _remove_parts(parts)
    if parts.exists() or parts.is_symlink():
        if resume and parts.is_dir():
            _check_resumable(parts, manifest, fingerprint, input_path)
            _remove_stale_temporaries(parts, output)
            return
        if not overwrite:
            raise FileExistsError(
                f"{parts} holds an interrupted run; pass resume=True (--resume) to continue "
                "it, or overwrite=True (--overwrite) to start over"
            )
        try:
            if parts.is_dir() and not parts.is_symlink():
                shutil.rmtree(parts)
            else:
                parts.unlink()
        except OSError as error:
            raise _unwritable(parts, error) from None
    try:
        parts.mkdir(parents=True)
        atomic_write_text(parts / _MANIFEST, json.dumps(manifest, indent=2))
        atomic_write_text(parts / _FINGERPRINT, json.dumps(fingerprint))
    except OSError as error:
        raise _unwritable(parts, error) from None
    _remove_stale_temporaries(parts, output)


def _holds_no_chunk(parts: Path) -> bool:
    """Whether ``parts`` is a folder of this module's bookkeeping alone: its manifest, its
    fingerprint and temporaries, no chunk (a folder of anything else is not ours)."""
    if not parts.is_dir() or parts.is_symlink():
        return False
    ours = {_MANIFEST, _FINGERPRINT}
    try:
        names = [p.name for p in parts.iterdir()]
    except OSError:
        return False
    return all(n in ours or (n.startswith(".") and n.endswith(".tmp")) for n in names)


def _remove_parts(parts: Path) -> None:
    """Remove ``parts`` and what it holds, silently: called on the way out of a failed run
    (its own error is the one to report) and before a new one."""
    shutil.rmtree(parts, ignore_errors=True)


def _after_failure(parts: Path, error: BaseException) -> None:
    """Keep the parts a later run can resume; remove those no resume could use.

    A run that finished no chunk has nothing to resume. A run stopped by a malformed
    input (a bad CSV row) cannot be resumed either: the input has to change, and a
    changed input is refused; its parts would only make the next run ask for
    ``--overwrite``.
    """
    if isinstance(error, DataError) or _holds_no_chunk(parts):
        _remove_parts(parts)


def _check_apart(input_path: Path, output: Path, parts: Path) -> None:
    """Refuse an output that would replace, or write into, the input.

    For a folder input, anything written inside the folder is an input of the next run
    (``OUTPUT.parts/`` reads as a label folder; an output named like an image replaces
    one), so the output and its parts must lie outside it. The input must not lie inside
    the output or its parts either (``overwrite`` removes them). Paths are compared as
    written (a link is replaced, not followed) and fully resolved (through links).

    Raises
    ------
    ValueError
        Naming the output and the input, and what to do.
    """
    source = input_path.resolve()
    folder = source.is_dir()
    for path in (output, parts):
        for where in {path.parent.resolve() / path.name, path.resolve()}:
            if where == source:
                what = "is the input folder" if folder else "is the input file"
                raise ValueError(
                    f"output {output} {what} {input_path}: writing it would destroy the "
                    "faces it is extracted from; choose another output file"
                )
            if folder and source in where.parents:
                raise ValueError(
                    f"output {output} lies inside the input folder {input_path}: the "
                    f"features file and its {parts.name}/ folder would become part of the "
                    f"input (or replace an image of it); write the output outside {input_path}"
                )
            if where in source.parents:
                raise ValueError(
                    f"input {input_path} lies inside {where}, which this run replaces or "
                    "removes; move the input, or choose another output file"
                )


def _check_resumable(parts: Path, manifest: dict, fingerprint: dict, input_path: Path) -> None:
    try:
        found = json.loads((parts / _MANIFEST).read_text(encoding="utf-8"))
        stored = json.loads((parts / _FINGERPRINT).read_text(encoding="utf-8"))
        if not isinstance(found, dict) or not isinstance(stored, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as error:
        raise DataError(
            f"{parts}: cannot read the interrupted run's settings ({error}); start over "
            "with overwrite=True (--overwrite)"
        ) from None
    differ = sorted(k for k in manifest.keys() | found.keys() if manifest.get(k) != found.get(k))
    if differ:
        what = ", ".join(f"{k} {found.get(k)!r} -> {manifest.get(k)!r}" for k in differ)
        raise DataError(
            f"{parts} holds a run with other input or settings ({what}); resume with the "
            "same ones, or start over with overwrite=True (--overwrite)"
        )
    change = _input_change(stored, fingerprint)
    if change:
        raise DataError(
            f"{input_path} changed since the interrupted run: {change}; start over with "
            "overwrite=True (--overwrite)"
        )


def _remove_stale_temporaries(parts: Path, output: Path) -> None:
    # a killed run cannot clean up after itself; the names are emonet._io's
    stale = [*parts.glob(".*.tmp"), *output.parent.glob(f".{glob.escape(output.name)}.*.tmp")]
    for path in stale:
        path.unlink(missing_ok=True)


def extract_to_file(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    jobs: int | None = None,
    chunk_size: int = 1024,
    resume: bool = False,
    overwrite: bool = False,
    detect_faces: bool = False,
    detector: str = "hog",
    min_score: float | None = None,
    upsample: int | None = None,
    skip_unknown_labels: bool = False,
    extractor: FeatureExtractor | None = None,
    progress: bool = True,
) -> ExtractionReport:
    """Extract the features of every face of an input into one HDF5 file.

    The input is streamed in chunks of ``chunk_size`` faces, processed by ``jobs``
    worker processes; each finished chunk is saved at once beside the output (in
    ``OUTPUT.parts/``), so an interrupted run, however it was stopped, continues with
    ``resume=True`` from the chunks it finished, no row lost or doubled. A resume is
    refused if the settings or the input changed (files added, removed or modified; a
    CSV of other size or content). The output is assembled under a temporary name and
    renamed at the end. Images that cannot be used are skipped, counted and recorded in
    the file.

    Parameters
    ----------
    input_path : str or path-like
        ``fer2013.csv``, a FER2013 image-folder release, or any ``<label>/<image>``
        folder (see :mod:`emonet.data`).
    output_path : str or path-like
        The ``.h5`` file to write: not the input, nor inside an input folder.
    jobs : int, optional
        Worker processes; default all available cores. 1 runs in this process. Workers
        are started with ``spawn``: a script that calls this with ``jobs > 1`` needs the
        usual ``if __name__ == "__main__":`` guard.
    chunk_size : int, optional
        Faces per chunk: the unit of work, of memory and of resumption.
    resume : bool, optional
        Continue an interrupted run into the same output.
    overwrite : bool, optional
        Replace an existing output (and discard an interrupted run).
    detect_faces : bool, optional
        For image folders of photos: detect, align and crop the largest face of each
        image (:func:`crop_faces`); images with no face are skipped. Without it each
        image is taken as a face crop (its centred square, resized).
    detector, min_score, upsample : optional
        With ``detect_faces``: the detection settings of :func:`detect_faces` (a
        detector by name: ``"hog"`` or ``"cnn"``), recorded in the file.
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
        If the input is missing, malformed (a bad CSV row names its line) or holds no
        face, or an interrupted run cannot be resumed (what changed is named). A run
        stopped by a malformed input keeps no part: fixed, the input runs again as is.
    ValueError
        If the output is the input, lies inside an input folder, or holds the input.
    FileExistsError
        If the output or an interrupted run exists and neither ``overwrite`` nor
        ``resume`` says what to do.
    OSError
        If the output's folder cannot be written (a ``PermissionError`` where it is
        one); the message names the output, not a temporary file.
    concurrent.futures.process.BrokenProcessPool
        If a worker process died (killed, out of memory); finished chunks are kept.

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
    n_features = extractor.n_features_out
    if not isinstance(detector, str):
        raise ValueError(
            f"detector must name one of {DETECTORS} (the workers rebuild it), got {detector!r}"
        )
    check_detection(detector, upsample, min_score)
    detection = (
        {"detector": detector, "min_score": min_score, "upsample": upsample}
        if detect_faces
        else None
    )
    jobs = default_jobs() if jobs is None else int(jobs)
    if jobs < 1 or chunk_size < 1:
        raise ValueError(f"jobs and chunk_size must be positive, got {jobs} and {chunk_size}")

    kind, records, unknown_folders = iter_records(
        input_path, skip_unknown_labels=skip_unknown_labels
    )
    parts = output.with_name(output.name + ".parts")
    _check_apart(input_path, output, parts)
    if kind == "csv":
        total, fingerprint = _scan_csv(input_path)
        # the header and the first row are checked before anything is written
        first = next(records, None)
        if first is None:
            raise DataError(f"{input_path}: no data rows; expected one row per face")
        records = chain([first], records)
    else:
        records = list(records)  # lists the files; an empty input raises here
        total, fingerprint = len(records), _fingerprint_files(records)
        records = iter(records)
    manifest = {
        "input": str(input_path.resolve()),
        "kind": kind,
        "chunk_size": chunk_size,
        "extractor": params,
        "detect_faces": detect_faces,
        **({"detection": detection} if detection else {}),
        "skip_unknown_labels": skip_unknown_labels,
        "emonet_version": __version__,
    }
    _prepare_parts(parts, manifest, fingerprint, input_path, output, resume, overwrite)

    report = ExtractionReport(output, skipped_label_folders=unknown_folders)
    usage: Counter = Counter()
    attrs = {
        "emonet_version": __version__,
        "source": str(input_path),
        "source_kind": kind,
        "detect_faces": detect_faces,
        **({"detection": json.dumps(detection)} if detection else {}),
        "feature_layout": "landmarks x0,y0,...,x67,y67 (136) then sliding-window HOG",
        **{f"hog_{k}": v for k, v in params.items()},
    }
    # Parts are the durable record (resume reads them); the output file is appended
    # in input order as parts finish, while the workers run.
    try:
        writer = FeatureFileWriter(output, attrs, n_features)
    except OSError as error:
        _after_failure(parts, error)  # the chunks of a resumed run are kept
        raise _unwritable(output, error) from None
    finished: set[int] = set()
    appended = 0

    def collect(index: int, summary: dict) -> None:
        nonlocal appended
        usage.update(summary["usage"])
        report.skipped.extend(summary["skipped"])
        finished.add(index)
        while appended in finished:
            with np.load(parts / _PART.format(appended)) as part:
                try:
                    writer.append(part)
                except OSError as error:
                    raise _unwritable(output, error) from None
            finished.discard(appended)
            appended += 1

    bar = tqdm(total=total, unit="face", desc="extracting", disable=not progress, smoothing=0.1)
    executor = None
    if jobs > 1:
        executor = ProcessPoolExecutor(
            jobs,
            mp_context=_worker_context(),
            initializer=_init_worker,
            initargs=(os.getpid(),),
        )
    pending: dict[Future, tuple[int, int]] = {}
    failure: BaseException | None = None

    def collect_finished() -> None:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in sorted(done, key=lambda f: pending[f][0]):
            index, size = pending.pop(future)
            try:
                summary = future.result()
            except BrokenProcessPool:
                raise BrokenProcessPool(
                    "a worker process died (killed, or out of memory?); the finished "
                    f"chunks are kept in {parts}: continue with resume=True (--resume)"
                ) from None
            collect(index, summary)
            bar.update(size)

    try:
        for index, chunk in enumerate(_chunks(records, chunk_size)):
            done_part = parts / _PART.format(index)
            if done_part.exists():
                part = _read_part(done_part, chunk, n_features)
                if part is not None:
                    collect(index, _part_summary(part))
                    report.resumed_chunks += 1
                    bar.update(len(chunk))
                    continue
                done_part.unlink()
                report.redone_chunks += 1
            if executor is None:
                collect(index, _extract_chunk(index, chunk, str(parts), params, detection))
                bar.update(len(chunk))
            else:
                # a bounded window of chunks in flight keeps memory flat on any input size
                while len(pending) >= 2 * jobs:
                    collect_finished()
                future = executor.submit(
                    _extract_chunk, index, chunk, str(parts), params, detection
                )
                pending[future] = (index, len(chunk))
        while pending:
            collect_finished()
        try:
            writer.close()
        except OSError as error:
            raise _unwritable(output, error) from None
    except BaseException as error:
        failure = error
        writer.abort()
        if executor is not None:
            _stop_workers(executor)
        raise
    finally:
        bar.close()
        if executor is not None:
            executor.shutdown(cancel_futures=True)
        if failure is not None:  # once no worker can write a part any more
            _after_failure(parts, failure)
    shutil.rmtree(parts)
    report.n_faces = writer.n_rows
    report.usage_counts = dict(usage)
    report.seconds = time.perf_counter() - start
    return report
