"""The work on a Ray worker: a callable class that holds one recognizer, for ``map_batches``.

Ray Data builds one :class:`FacePredictor` per actor (the model loaded once), then
calls it with batches of tasks. Each call returns, per task, its name and its result
(pickled): the rows of its faces, its skipped inputs and the manifest entries of the
inputs it finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FacePredictor", "content_hash", "predictor_class"]

#: Video frames whose faces share one network pass (as Recognizer.predict_video).
FRAMES_PER_GROUP = 16


def content_hash(data: bytes | np.ndarray) -> str:
    """SHA-256 of a file's bytes (or of an array's), as hex."""
    if isinstance(data, np.ndarray):
        data = np.ascontiguousarray(data).tobytes()
    return hashlib.sha256(data).hexdigest()


class FacePredictor:
    """One recognizer, loaded once per Ray actor, applied to batches of tasks.

    Parameters
    ----------
    options : dict
        Keyword arguments of :class:`emonet.recognize.Recognizer` (``preset`` a bundled
        name: the package ships it to every worker).
    every : int
        Every ``every``-th video frame.
    done : dict, optional
        For a dataset's rows: ``{path: content hash}`` of the rows done before, skipped.
    """

    #: The settings of :func:`predictor_class`, for a constructor without arguments.
    settings: dict[str, Any] = {}

    def __init__(
        self,
        options: dict[str, Any] | None = None,
        every: int | None = None,
        done: dict | None = None,
    ):
        from emonet._tensorflow import import_tensorflow

        # int8 LiteRT networks need no Keras backend: Keras on NumPy imports in half
        # TensorFlow's time (the actor starts 3-4 s sooner), the rows the same
        import_tensorflow(lite_only=self.settings.get("lite_only", False))
        from emonet.recognize import Recognizer

        options = self.settings.get("options", {}) if options is None else options
        self.recognizer = Recognizer(**options)
        _fit_threads(self.recognizer)
        self.every = self.settings.get("every", 1) if every is None else every
        self.done = self.settings.get("done", {}) if done is None else done

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if "task" in batch:
            tasks = [json.loads(task) for task in batch["task"]]
            names = [task["name"] for task in tasks]
            results = [self.run_task(task) for task in tasks]
        else:  # rows of a ray.data.Dataset: one result for the batch
            paths = [os.fsdecode(path) for path in batch["path"]]
            key = "\n".join(paths).encode("utf-8", "surrogateescape")
            names = ["ds-" + content_hash(key)[:20]]
            results = [self.run_rows(paths, batch)]
        return {
            "name": np.array(names, dtype=object),
            "result": np.array([pickle.dumps(result) for result in results], dtype=object),
        }

    # ------------------------------------------------------------------ files

    def run_task(self, task: dict[str, Any]) -> dict[str, Any]:
        if task["kind"] == "video":
            return self.run_video(task["items"][0], task["start"], task["stop"])
        return self.run_photos(task["items"])

    def run_photos(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        from emonet.recognize import read_photo

        readable, images, skipped, done, failed = [], [], [], [], []
        for item in items:
            entry = {k: item[k] for k in ("path", "size", "mtime_ns")}
            try:
                with open(item["path"], "rb") as stream:
                    entry["hash"] = content_hash(stream.read())
                if entry["hash"] != item.get("hash"):  # else: done before, content unchanged
                    images.append(read_photo(item["path"]))
                    readable.append(item)
            except (OSError, ValueError) as error:
                skipped.append((item["source"], _reason(error, item)))
                failed.append(item)
            done.append(entry)
        return {
            "rows": self._photo_rows(images, [item["source"] for item in readable]),
            "skipped": skipped,
            "done": done,
            "processed": [item["path"] for item in readable] + [i["path"] for i in failed],
        }

    def _photo_rows(self, images: list[np.ndarray], sources: list[str]) -> list[dict[str, Any]]:
        import dataclasses

        results = self.recognizer.predict(images) if images else []
        return [
            row
            for result, source in zip(results, sources, strict=True)
            for row in dataclasses.replace(result, source=source).to_rows()
        ]

    def run_video(self, item: dict[str, Any], start: int, stop: int | None) -> dict[str, Any]:
        from emonet.recognize import FrameResult, VideoResult, video_info

        entry = {k: item[k] for k in ("path", "size", "mtime_ns")}
        entry.update(start=start, stop=stop)
        frames: list[FrameResult] = []
        try:
            if start == 0 and stop is None:  # the whole video: as one process reads it
                info = video_info(item["path"])
                fps, count, chunks = info["fps"], info["frames"], iter(())
                frames = list(self.recognizer.predict_video(item["path"], self.every))
            else:
                fps, count, chunks = _segment_chunks(item["path"], start, stop, self.every)
            for chunk in chunks:
                results = self.recognizer.predict([image for _, image in chunk])
                frames += [
                    FrameResult(index, index / fps if fps else float("nan"), result.faces)
                    for (index, _), result in zip(chunk, results, strict=True)
                ]
        except (OSError, ValueError) as error:
            return {
                "rows": [],
                "skipped": [(item["source"], _reason(error, item))],
                "done": [entry],
                "processed": [item["path"]],
            }
        video = VideoResult(item["source"], fps, count, self.every, frames)
        return {
            "rows": video.to_rows(),
            "skipped": [],
            "done": [entry],
            "processed": [item["path"]],
        }

    # ------------------------------------------------------------------ a dataset's rows

    def run_rows(self, paths: list[str], batch: dict[str, np.ndarray]) -> dict[str, Any]:
        from emonet.recognize import read_photo

        readable, images, skipped, done = [], [], [], []
        for index, path in enumerate(paths):
            try:
                if "bytes" in batch:
                    data = bytes(batch["bytes"][index])
                    digest = content_hash(data)
                    if self.done.get(path) == digest:
                        continue
                    image = _decode_bytes(data, path, read_photo)
                else:
                    image = np.asarray(batch["image"][index])
                    digest = content_hash(image)
                    if self.done.get(path) == digest:
                        continue
                    image = read_photo(image)
                images.append(image)
                readable.append(path)
            except (OSError, ValueError) as error:
                skipped.append((path, str(error)))
            done.append({"path": path, "hash": digest})
        return {
            "rows": self._photo_rows(images, readable),
            "skipped": skipped,
            "done": done,
            "processed": [entry["path"] for entry in done],
        }


def _fit_threads(recognizer: Any) -> None:
    """Run the recognizer's int8 networks and OpenCV on the CPUs Ray gave this actor, not
    on every core of the node: actors whose thread pools each take every core wait for
    each other."""
    from emonet.models import LiteModel

    try:
        import ray

        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
    except Exception:  # not in a Ray worker
        return
    if not cpus:
        return
    threads = max(1, int(cpus))
    import cv2

    cv2.setNumThreads(threads)
    recognizer.models_ = [
        LiteModel(model.content, num_threads=threads, source=model.name)
        if isinstance(model, LiteModel) and model.num_threads != threads
        else model
        for model in recognizer.models_
    ]


def predictor_class(
    options: dict[str, Any], every: int, done: dict | None = None, lite_only: bool = False
) -> type:
    """A :class:`FacePredictor` class that carries its settings, built without arguments:
    Ray ships the class with the actor's definition, and keeps no constructor arguments
    in the object store that a restarted actor would need. ``lite_only``: the networks
    are all int8 LiteRT files, which need no Keras backend (the actor then imports Keras
    on NumPy, unless ``KERAS_BACKEND`` is set)."""
    settings = {"options": options, "every": every, "done": done or {}, "lite_only": lite_only}
    return type("FacePredictor", (FacePredictor,), {"settings": settings})


def _decode_bytes(data: bytes, path: str, read_photo) -> np.ndarray:
    """A file's bytes decoded as :func:`emonet.recognize.read_photo` decodes the file."""
    suffix = Path(path).suffix if len(Path(path).suffix) <= 8 else ""
    with tempfile.NamedTemporaryFile(suffix=suffix) as stream:
        stream.write(data)
        stream.flush()
        try:
            return read_photo(stream.name)
        except ValueError as error:
            raise ValueError(str(error).replace(stream.name, path)) from None


def _reason(error: BaseException, item: dict[str, Any]) -> str:
    """The error's message, without the file's name (the table names it)."""
    message = str(error)
    for name in (item["path"], item["source"]):
        prefix = f"{name}: "
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _segment_chunks(
    path: str, start: int, stop: int | None, every: int
) -> tuple[float, int, Iterator[list[tuple[int, np.ndarray]]]]:
    """Frame rate, frame count, and the frames ``[start, stop)`` kept by ``every`` in
    groups, read as :meth:`Recognizer.predict_video` reads them (RGB)."""
    import cv2

    try:
        name = path.encode("utf-8").decode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "OpenCV cannot open a file whose name is not UTF-8; rename the file"
        ) from None
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such video file")
    capture = cv2.VideoCapture(name)
    if not capture.isOpened():
        capture.release()
        raise ValueError("cannot be opened as a video")
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    index = 0
    if start > 0:
        capture.set(cv2.CAP_PROP_POS_FRAMES, start)
        if int(capture.get(cv2.CAP_PROP_POS_FRAMES)) == start:
            index = start
        else:  # no exact seek in this file: read from the start, decoding nothing skipped
            capture.release()
            capture = cv2.VideoCapture(name)

    def chunks() -> Iterator[list[tuple[int, np.ndarray]]]:
        nonlocal index
        chunk: list[tuple[int, np.ndarray]] = []
        try:
            while (stop is None or index < stop) and capture.grab():
                if index >= start and index % every == 0:
                    ok, frame = capture.retrieve()
                    if ok:
                        chunk.append((index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)))
                    if len(chunk) == FRAMES_PER_GROUP:
                        yield chunk
                        chunk = []
                index += 1
            if chunk:
                yield chunk
        finally:
            capture.release()

    return fps, count, chunks()
