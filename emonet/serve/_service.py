"""The work behind the routes: admission (a bounded number of requests at once), photos
decoded and their faces found in worker threads, their crops read by the batching queue."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import cv2
import numpy as np

from emonet.features import align_faces, detect_faces
from emonet.recognize import Face, PhotoResult, VideoResult
from emonet.serve._batching import FaceBatcher
from emonet.serve._detect import find_faces, warm
from emonet.serve._errors import ServeError
from emonet.serve._images import decode_upload, sniff_video
from emonet.serve._limits import Limits

__all__ = ["Service"]


class Service:
    """The recognizer behind the app, its batching queue and its limits.

    ``recognizer`` is a loaded :class:`emonet.Recognizer`, or a function that loads one
    (called in a thread when the app starts, so that ``/healthz`` answers at once and
    ``/readyz`` once the models are loaded).
    """

    def __init__(
        self, recognizer: Any, limits: Limits, detect_threads: int = 2, detect_processes: int = 0
    ) -> None:
        self.limits = limits
        self._factory: Callable[[], Any] | None = None
        self.recognizer: Any = None
        if hasattr(recognizer, "predict_crops"):
            self.recognizer = recognizer
        elif callable(recognizer):
            self._factory = recognizer
        else:
            raise TypeError(
                "create_app: recognizer must be an emonet.Recognizer or a function that "
                f"returns one, got {type(recognizer).__name__}"
            )
        self.load_error: str | None = None
        self.pending = 0
        self.refused = 0
        # dlib's detectors crash when two threads run one at once: one detection at a time
        self._dlib_lock = threading.Lock()
        self._detect_threads = detect_threads
        self._detect_processes = detect_processes
        self._pool: ThreadPoolExecutor | None = None
        self._processes: ProcessPoolExecutor | None = None
        self.batcher = FaceBatcher(
            self._predict_crops,
            max_wait_s=limits.batch_wait_ms / 1000,
            max_faces=limits.max_batch_faces,
        )

    # ------------------------------------------------------------------ life

    @property
    def ready(self) -> bool:
        return self.recognizer is not None

    async def start(self) -> None:
        self._pool = ThreadPoolExecutor(self._detect_threads, thread_name_prefix="emonet-detect")
        if self._detect_processes > 0:
            # spawned, not forked: a fork of a process running TensorFlow's threads is unsafe
            context = multiprocessing.get_context("spawn")
            self._processes = ProcessPoolExecutor(self._detect_processes, mp_context=context)
            for _ in range(self._detect_processes):
                self._processes.submit(warm)
        if self._factory is not None and self.recognizer is None:
            asyncio.get_running_loop().create_task(self._load())

    async def _load(self) -> None:
        try:
            self.recognizer = await asyncio.to_thread(self._factory)
        except Exception as error:  # /readyz says why
            self.load_error = f"{type(error).__name__}: {error}"

    async def stop(self) -> None:
        await self.batcher.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self._processes is not None:
            self._processes.shutdown(wait=True, cancel_futures=True)
            self._processes = None

    def _predict_crops(self, crops: np.ndarray, tta: str | None) -> np.ndarray:
        return self.recognizer.predict_crops(crops, tta=tta)

    # ------------------------------------------------------------------ admission

    @contextlib.asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Let one request in, or refuse it with 503: models not loaded, or
        ``max_pending`` requests already in the works."""
        retry = {"Retry-After": str(self.limits.retry_after_s)}
        if not self.ready:
            message = (
                f"the models failed to load ({self.load_error})"
                if self.load_error
                else "the models are still loading; retry in a few seconds"
            )
            raise ServeError(503, "not_ready", message, retry)
        if self.pending >= self.limits.max_pending:
            self.refused += 1
            raise ServeError(
                503,
                "busy",
                f"the server is busy ({self.pending} requests in the works, the limit is "
                f"{self.limits.max_pending}); retry after {self.limits.retry_after_s} s",
                retry,
            )
        self.pending += 1
        try:
            yield
        finally:
            self.pending -= 1

    # ------------------------------------------------------------------ photos

    async def recognize(
        self,
        uploads: Sequence[tuple[str, bytes]],
        *,
        tta: str | None = None,
        detector: str | None = None,
        min_score: float | None = None,
    ) -> list[PhotoResult]:
        """The faces of uploaded images, one :class:`PhotoResult` each (``source`` is
        the upload's file name, a label only: nothing is read from it)."""
        if not uploads:
            raise ServeError(400, "no_image", "no image in the request: send one")
        if len(uploads) > self.limits.max_images:
            raise ServeError(
                422,
                "too_many_images",
                f"{len(uploads)} images in one request, the limit is "
                f"{self.limits.max_images}; send them in several requests",
            )
        from emonet.models import tta_mode  # Keras: imported when the models are

        try:
            tta = None if tta is None else tta_mode(tta)
        except ValueError as error:
            raise ServeError(422, "bad_option", f"tta: {error}") from None
        loop = asyncio.get_running_loop()
        self.batcher.expect(1)
        try:
            if self._processes is not None and isinstance(self.recognizer.detector, str):
                found = await self._find_faces_elsewhere(uploads, detector, min_score)
            else:
                found = await loop.run_in_executor(
                    self._pool, self._find_faces, uploads, detector, min_score
                )
        finally:
            self.batcher.expect(-1)
        crops = [item[4] for item in found]
        probabilities = await self.batcher.predict(np.concatenate(crops), tta)
        results, start = [], 0
        for (name, _), (size, boxes, scores, landmarks, _) in zip(uploads, found, strict=True):
            stop = start + len(boxes)
            faces = [
                Face.from_probabilities(box, score, points, row)
                for box, score, points, row in zip(
                    boxes, scores, landmarks, probabilities[start:stop], strict=True
                )
            ]
            start = stop
            height, width = size
            results.append(PhotoResult(_label(name), width, height, faces))
        return results

    async def _find_faces_elsewhere(
        self, uploads: Sequence[tuple[str, bytes]], detector: str | None, min_score: float | None
    ) -> list[tuple]:
        """:meth:`_find_faces` in the worker processes, one photo each."""
        loop = asyncio.get_running_loop()
        recognizer, limits = self.recognizer, self.limits
        if detector is None and min_score is None:
            min_score = recognizer.min_score
        jobs = [
            loop.run_in_executor(
                self._processes,
                find_faces,
                data,
                name,
                limits.max_upload_bytes,
                limits.max_pixels,
                detector or recognizer.detector,
                recognizer.upsample,
                min_score,
            )
            for name, data in uploads
        ]
        return list(await asyncio.gather(*jobs))

    def _find_faces(
        self, uploads: Sequence[tuple[str, bytes]], detector: str | None, min_score: float | None
    ) -> list[tuple]:
        limits = self.limits
        images = [
            decode_upload(
                data, max_bytes=limits.max_upload_bytes, max_pixels=limits.max_pixels, name=name
            )
            for name, data in uploads
        ]
        found = []
        for image in images:
            with self._dlib_lock:  # decoding runs in parallel, detection one at a time
                if detector is None and min_score is None:
                    boxes, scores, landmarks, crops = self.recognizer.detect(image)
                else:
                    boxes, scores, landmarks, crops = self._detect(image, detector, min_score)
            found.append((image.shape[:2], boxes, scores, landmarks, crops))
        return found

    def _detect(self, image: np.ndarray, detector: str | None, min_score: float | None):
        own = self.recognizer.detector
        detector = detector or (own if isinstance(own, str) else "hog")
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        boxes, scores = detect_faces(
            gray,
            upsample=self.recognizer.upsample,
            detector=detector,
            min_score=min_score,
            return_scores=True,
        )
        crops, landmarks = align_faces(gray, boxes)
        return boxes, scores, landmarks, crops

    # ------------------------------------------------------------------ videos

    async def recognize_video(self, data: bytes, *, every: int = 1) -> VideoResult:
        """The faces of an uploaded video's frames (written to a temporary file that is
        deleted before the answer goes out)."""
        limits = self.limits
        if not data:
            raise ServeError(400, "empty", "empty upload: send a video's bytes")
        if len(data) > limits.max_video_bytes:
            raise ServeError(
                413,
                "too_large",
                f"{len(data):,} bytes is over the limit of {limits.max_video_bytes:,} bytes "
                "a video; send a shorter or smaller one",
            )
        kind = sniff_video(data)
        if kind is None:
            raise ServeError(415, "not_a_video", "not a video: send MP4, AVI or MKV bytes")
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._video, data, kind, every
        )

    def _video(self, data: bytes, kind: str, every: int) -> VideoResult:
        from emonet.recognize import video_info  # OpenCV's reader, with the recognizer

        limits = self.limits
        handle, path = tempfile.mkstemp(prefix="emonet-serve-", suffix=f".{kind}")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            try:
                info = video_info(path)
            except ValueError:
                raise ServeError(422, "bad_video", f"a damaged {kind.upper()} video") from None
            fps, frames = info["fps"], info["frames"]
            seconds = frames / fps if fps > 0 else 0.0
            if seconds > limits.max_video_seconds:
                raise ServeError(
                    422,
                    "video_too_long",
                    f"a video of {seconds:.1f} s is over the limit of "
                    f"{limits.max_video_seconds:g} s; send a shorter clip",
                )
            read = -(-frames // every)
            if read > limits.max_video_frames:
                raise ServeError(
                    422,
                    "too_many_frames",
                    f"{read} frames to read is over the limit of {limits.max_video_frames}; "
                    f"read fewer with every={-(-frames // limits.max_video_frames)}",
                )
            results = []
            stream = iter(self.recognizer.predict_video(path, every))
            while len(results) < limits.max_video_frames:  # a header may lie: stop at it
                # the lock is taken per step (a group of frames), so that photos' requests
                # get their turn between the groups of a long video
                with self._dlib_lock:
                    frame = next(stream, None)
                if frame is None:
                    break
                results.append(frame)
            return VideoResult(
                source=None, fps=fps, frame_count=frames, every=every, frames=results
            )
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _label(name: str) -> str | None:
    """An upload's file name as a label: its last part, printable, at most 200 chars."""
    if not name:
        return None
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c if c.isprintable() else "?" for c in name)[:200] or None
