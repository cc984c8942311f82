"""``predict``: recognition over many photos and videos with Ray Data's batch inference."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emonet.distributed._output import check_settings, load_manifest, write_unit
from emonet.distributed._plan import expand_inputs, plan_units
from emonet.distributed._ray import connect, require_ray
from emonet.distributed._worker import predictor_class
from emonet.recognize import (
    DEFAULT_PRESET,
    ROW_COLUMNS,
    list_presets,
    lite_only,
)

__all__ = ["RunSummary", "predict"]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class RunSummary:
    """What one call of :func:`predict` did.

    Attributes
    ----------
    output : pathlib.Path
        The output folder (read it with :func:`emonet.distributed.read_output`).
    inputs : int
        Photos and videos named (for a dataset: its rows done now or before).
    done_before : int
        Inputs finished by an earlier run into the same folder, not read again.
    processed : int
        Inputs read by this run (a video counts once, however many segments).
    faces : int
        Rows (faces) this run wrote.
    skipped : list of (str, str)
        The inputs this run could not read and why; also in the output's skipped table
        (the paths that are neither photos nor videos too).
    units : int
        Tasks handed to the workers (groups of photos, video segments).
    """

    output: Path
    inputs: int
    done_before: int
    processed: int
    faces: int
    skipped: list[tuple[str, str]]
    units: int


def predict(
    inputs: Any,
    output: PathLike,
    *,
    preset: str = DEFAULT_PRESET,
    num_actors: int | None = None,
    address: str | None = None,
    every: int = 1,
    segment_s: float = 60.0,
    photos_per_unit: int = 32,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    detector: str = "hog",
    upsample: int | None = None,
    min_score: float | None = None,
    tta: bool | str | None = None,
    batch_size: int = 256,
    ray_remote_args: dict[str, Any] | None = None,
) -> RunSummary:
    """Recognize the faces of many photos and videos on Ray, into a Parquet folder.

    Ray Data streams the work through a pool of actors, each holding one
    :class:`~emonet.recognize.Recognizer` (the model loaded once per actor). Photos are
    read and decoded on the workers, in groups of ``photos_per_unit``; a video is cut
    into segments of ``segment_s`` seconds, read by several workers at once, and its
    rows come back in frame order. Each finished group or segment is written at once:
    its faces as ``OUTPUT/part-*.parquet``, then its manifest entry, so a job that
    stops keeps its finished work, and running it again into the same ``output`` does
    only the rest (an input is done by its path and its content: its size and time, or
    its SHA-256 when the time changed). A worker that dies is restarted and its task run
    again by Ray; the driver writes each task's result once.

    Parameters
    ----------
    inputs : path, glob, list of them, or ray.data.Dataset
        Files, folders (searched recursively for photos and videos:
        :func:`emonet.recognize.find_inputs`) and glob patterns; or a dataset of photos
        with a ``path`` column and ``bytes`` (``ray.data.read_binary_files(...,
        include_paths=True)``, e.g. of ``s3://`` paths) or ``image``
        (``ray.data.read_images(..., include_paths=True)``).
    output : path
        The Parquet folder: one row per face, the columns of ``emonet-predict --csv``
        (:data:`emonet.recognize.ROW_COLUMNS`), and ``_skipped/``, the inputs that
        could not be read, with the reason (:func:`read_output` reads both).
    preset : str, default="default"
        A bundled preset (:func:`emonet.recognize.list_presets`; workers load it from
        their own emonet installation), or a preset folder every worker can read.
    num_actors : int, optional
        Actors (one CPU each); default the cluster's CPUs.
    address : str, optional
        The Ray cluster to join (``"auto"``, ``"ray://head:10001"``); default the Ray
        session already started, or a local one (stopped again at the end).
    every : int, default=1
        Every ``every``-th video frame.
    segment_s : float, default=60.0
        Seconds of video per task; 0 for one task per video.
    photos_per_unit : int, default=32
        Photos per task (and per manifest entry).
    overwrite : bool, default=False
        Start ``output`` again instead of resuming it.
    progress : callable, optional
        Called as ``progress(done, total)`` once the work starts (``done`` 0) and after
        each task is written (``total`` is None for a dataset).
    detector, upsample, min_score, tta, batch_size
        As for :class:`emonet.recognize.Recognizer`.
    ray_remote_args : dict, optional
        More options of the actors (``max_restarts``, ``num_cpus``, ``memory``, ...).

    Returns
    -------
    RunSummary

    Raises
    ------
    ImportError
        If Ray is not installed: ``pip install 'emonet[ray]'``.
    FileNotFoundError
        If a path does not exist or a pattern matches nothing.
    ValueError
        If an argument is out of range, or ``output`` holds a run with other settings.

    Examples
    --------
    >>> from emonet.distributed import predict, read_output
    >>> summary = predict(["photos/", "talks/*.mp4"], "faces.parquet",
    ...                   preset="fast")  # doctest: +SKIP
    >>> faces, skipped = read_output(summary.output)  # doctest: +SKIP
    """
    ray = require_ray()
    _check(every, segment_s, photos_per_unit, num_actors, preset)
    output = Path(os.fsdecode(output))
    options = {
        "preset": preset,
        "detector": detector,
        "upsample": upsample,
        "min_score": min_score,
        "tta": tta,
        "batch_size": batch_size,
    }
    columns = list(ROW_COLUMNS)
    settings = {
        "columns": columns,
        "preset": os.fsdecode(preset),
        "detector": detector,
        "upsample": upsample,
        "min_score": min_score,
        "tta": tta,
        "every": every,
        "segment_s": float(segment_s),
        "photos_per_unit": photos_per_unit,
    }
    networks_lite = lite_only(preset)  # the actors then need no TensorFlow
    is_dataset = isinstance(inputs, ray.data.Dataset)
    if not is_dataset:
        photos, videos, not_inputs = expand_inputs(inputs)
    check_settings(output, settings, overwrite)
    done = load_manifest(output)
    if not is_dataset:
        units, n_done = plan_units(
            photos,
            videos,
            done,
            photos_per_unit=photos_per_unit,
            segment_s=segment_s,
            every=every,
        )
    # Ray only for work to do: a finished output answers at once
    started = connect(address, num_cpus=None) if is_dataset or units else False
    try:
        actors = num_actors or (
            max(1, int(ray.cluster_resources().get("CPU", 1))) if ray.is_initialized() else 1
        )
        # Ray Data restarts a dead actor and runs its task again (max_restarts and
        # max_task_retries -1 by default); ray_remote_args can bound them
        remote = {"num_cpus": 1, **(ray_remote_args or {})}
        if is_dataset:
            known = {path: entries[-1].get("hash") for path, entries in done.items()}
            dataset = inputs.map_batches(
                predictor_class(options, every, known, lite_only=networks_lite),
                batch_size=photos_per_unit,
                compute=ray.data.ActorPoolStrategy(size=actors),
                **remote,
            )
            total, n_done, extra_skipped = None, len(done), []
        else:
            extra_skipped = [_split_message(message) for message in not_inputs]
            total = len(units)
            dataset = None
            if units:
                tasks = ray.data.from_items(
                    [{"task": unit.to_json()} for unit in units],
                    override_num_blocks=min(len(units), 10_000),
                )
                dataset = tasks.map_batches(
                    predictor_class(options, every, lite_only=networks_lite),
                    batch_size=1,
                    compute=ray.data.ActorPoolStrategy(size=min(actors, len(units))),
                    **remote,
                )
        written: set[str] = set()
        faces, processed, skipped = 0, set(), []
        if extra_skipped:
            write_unit(output, "000000000-paths", [], columns, extra_skipped, [])
            skipped += extra_skipped
        batches = (
            iter(())
            if dataset is None
            else dataset.iter_batches(batch_size=None, batch_format="numpy")
        )
        if progress is not None and dataset is not None:
            progress(0, total)
        try:
            for batch in batches:
                for name, blob in zip(batch["name"], batch["result"], strict=True):
                    if name in written:  # a task run again after a worker died
                        continue
                    result = pickle.loads(blob)
                    write_unit(
                        output, name, result["rows"], columns, result["skipped"], result["done"]
                    )
                    written.add(name)
                    faces += len(result["rows"])
                    processed.update(result["processed"])
                    skipped += result["skipped"]
                    if progress is not None:
                        progress(len(written), total)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()  # a run stopped here stops its actors, at once
    finally:
        if started:
            ray.shutdown()
    return RunSummary(
        output=output,
        inputs=(n_done + len(processed)) if is_dataset else len(photos) + len(videos),
        done_before=n_done,
        processed=len(processed),
        faces=faces,
        skipped=skipped,
        units=len(written),
    )


def _split_message(message: str) -> tuple[str, str]:
    """``"path: reason"`` of find_inputs as ``(path, reason)``."""
    source, _, reason = message.rpartition(": ")
    return (source, reason) if source else (message, "")


def _check(every: Any, segment_s: Any, photos_per_unit: Any, num_actors: Any, preset: Any) -> None:
    for name, value in (("every", every), ("photos_per_unit", photos_per_unit)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if num_actors is not None and (
        isinstance(num_actors, bool) or not isinstance(num_actors, int) or num_actors < 1
    ):
        raise ValueError(f"num_actors must be an integer >= 1, got {num_actors!r}")
    if not isinstance(segment_s, int | float) or not segment_s >= 0:
        raise ValueError(f"segment_s must be a number of seconds >= 0, got {segment_s!r}")
    if isinstance(preset, str) and preset not in list_presets() and not Path(preset).is_dir():
        raise ValueError(
            f"preset {preset!r}: neither a bundled preset ({', '.join(list_presets())}) "
            "nor a preset folder"
        )
