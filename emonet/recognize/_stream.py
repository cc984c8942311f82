"""Live and any sources: cameras, URLs, files and iterables of frames, read on a thread
into a bounded buffer (:class:`FrameStream`)."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterator
from numbers import Integral, Real
from typing import Any

import cv2
import numpy as np

from emonet.recognize._result import FrameResult
from emonet.recognize._video import (
    Frame,
    FramePipeline,
    file_frames,
    open_video,
)

__all__ = ["CameraError", "FrameStream"]

_END = object()


class CameraError(OSError):
    """A camera or stream URL that cannot be opened or read."""


def open_source(
    source: Any, every: int, fps: float, clock: Callable[[], float]
) -> tuple[Iterator[Frame], bool, Callable[[], None]]:
    """(frames, live, release) of a stream's source: live sources (cameras, URLs) are
    timed by ``clock``, files by their frame rate, iterables by their own times or
    ``fps``."""
    if isinstance(source, Integral) and not isinstance(source, bool):
        capture = _quietly(cv2.VideoCapture, int(source))
        if not capture.isOpened():
            capture.release()
            raise CameraError(
                f"camera {int(source)}: cannot be opened (no camera with this index, or "
                "another program holds it); check the index, e.g. 0 for the first camera"
            )
        return _live_frames(capture, every, clock, f"camera {source}"), True, capture.release
    if isinstance(source, str) and "://" in source:
        capture = _quietly(cv2.VideoCapture, source)
        if not capture.isOpened():
            capture.release()
            raise CameraError(f"{source}: cannot be opened as a video stream")
        return _live_frames(capture, every, clock, source), True, capture.release
    if isinstance(source, str | bytes) or hasattr(source, "__fspath__"):
        capture = open_video(source)
        frames = file_frames(capture, every)
        return frames, False, capture.release
    if isinstance(source, np.ndarray) and source.ndim in (2, 3) and source.dtype != object:
        raise ValueError(
            "source is one image: give a list of frames (or a 4-D array), a video file, "
            "a URL or a camera index"
        )
    try:
        items = iter(source)
    except TypeError:
        raise ValueError(
            "source must be a camera index, a video file, a URL or an iterable of frames, "
            f"got {type(source).__name__}"
        ) from None
    return _given_frames(items, every, fps), False, lambda: None


def _quietly(function: Callable, *args: Any) -> Any:
    """``function(*args)`` without OpenCV's warnings (a missing camera gives our one
    line, not three of its backends' own)."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:
        return function(*args)
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_ERROR)
    try:
        return function(*args)
    finally:
        logging.setLogLevel(level)


def _live_frames(
    capture: cv2.VideoCapture, every: int, clock: Callable[[], float], name: str
) -> Iterator[Frame]:
    start = clock()
    index = 0
    while True:
        ok = capture.grab()
        if not ok:
            if index == 0:
                raise CameraError(f"{name}: opened, but gives no frame")
            return
        if index % every == 0:
            ok, frame = capture.retrieve()
            if ok:
                yield index, clock() - start, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        index += 1


def _given_frames(items: Iterator[Any], every: int, fps: float) -> Iterator[Frame]:
    for index, item in enumerate(items):
        if index % every:
            continue
        if isinstance(item, tuple):
            if len(item) != 2:
                raise ValueError(
                    f"frame {index}: expected an image or (image, time in seconds), got a "
                    f"tuple of {len(item)}"
                )
            image, time_s = item
            if isinstance(time_s, bool) or not isinstance(time_s, Real):
                raise ValueError(f"frame {index}: time must be a number of seconds")
            time_s = float(time_s)
        else:
            image, time_s = item, index / fps
        yield index, time_s, np.asarray(image)


class FrameStream:
    """The frame results of a source, as they come: an iterator and a context manager.

    Made by :meth:`Recognizer.stream`. A thread reads the source into a buffer of
    ``buffer`` frames; iterating reads each frame's faces. When the consumer is slower
    than a live source the oldest frames waiting are dropped (counted in
    :attr:`dropped`), so memory stays bounded; files and iterables wait for the
    consumer instead, unless ``drop=True``.

    Attributes
    ----------
    frames_read : int
        Frames taken from the source (after ``every``).
    dropped : int
        Frames dropped because the consumer was behind.
    frames_done : int
        Frames whose results were yielded.
    max_buffered : int
        Most frames that waited in the buffer at once (at most ``buffer``).
    live : bool
        Whether the source is a camera or a URL.
    """

    def __init__(
        self,
        frames: Iterator[Frame],
        release: Callable[[], None],
        pipeline: FramePipeline,
        *,
        live: bool,
        drop: bool,
        buffer: int,
        keep_images: bool,
        duration: float | None,
    ) -> None:
        self.live = live
        self.frames_read = 0
        self.dropped = 0
        self.frames_done = 0
        self.max_buffered = 0
        self._frames = frames
        self._release = release
        self._pipeline = pipeline
        self._drop = drop
        self._size = buffer
        self._keep_images = keep_images
        self._duration = duration
        self._queue: collections.deque = collections.deque()
        self._condition = threading.Condition()
        self._stop = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._read, name="emonet-stream", daemon=True)
        self._thread.start()

    # -- the reading thread

    def _read(self) -> None:
        try:
            for frame in self._frames:
                if self._stop.is_set():
                    break
                if self._duration is not None and frame[1] >= self._duration:
                    break
                with self._condition:
                    while len(self._queue) >= self._size and not self._drop:
                        if self._stop.is_set():
                            return
                        self._condition.wait(0.1)
                    if len(self._queue) >= self._size:
                        self._queue.popleft()  # the oldest: live viewers want the latest
                        self.dropped += 1
                    self._queue.append(frame)
                    self.frames_read += 1
                    self.max_buffered = max(self.max_buffered, len(self._queue))
                    self._condition.notify_all()
        except BaseException as error:  # handed to the consumer, raised there
            self._put_end(error)
            return
        finally:
            close = getattr(self._frames, "close", None)
            if close is not None:
                close()
            self._release()
        self._put_end(_END)

    def _put_end(self, item: Any) -> None:
        with self._condition:
            self._queue.append(item)
            self._condition.notify_all()

    # -- the consumer

    def __iter__(self) -> Iterator[FrameResult]:
        return self

    def __next__(self) -> FrameResult:
        if self._closed:
            raise StopIteration
        with self._condition:
            while not self._queue:
                self._condition.wait(0.1)
            item = self._queue.popleft()
            self._condition.notify_all()
        if item is _END:
            self._closed = True
            raise StopIteration
        if isinstance(item, BaseException):
            self._closed = True
            raise item
        (result,) = self._pipeline.run([item], 1, self._keep_images)
        self.frames_done += 1
        return result

    def close(self) -> None:
        """Stop reading and release the camera or file (idempotent)."""
        self._closed = True
        self._stop.set()
        with self._condition:
            self._queue.clear()
            self._condition.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)

    def __enter__(self) -> FrameStream:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def stats(self) -> dict[str, int]:
        """``frames_read``, ``frames_done``, ``dropped`` and ``max_buffered``."""
        return {
            "frames_read": self.frames_read,
            "frames_done": self.frames_done,
            "dropped": self.dropped,
            "max_buffered": self.max_buffered,
        }
