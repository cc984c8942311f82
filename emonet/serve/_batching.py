"""The batching queue: the faces of concurrent requests share network batches."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from emonet._constants import LABELS

__all__ = ["FaceBatcher"]


@dataclass
class _Item:
    crops: np.ndarray
    tta: str | None
    future: asyncio.Future = field(repr=False)


class FaceBatcher:
    """Gather the face crops of concurrent requests and read them in one network batch.

    A request hands its crops to :meth:`predict` and awaits their probabilities. One
    worker takes the crops waiting, and, while other requests are still on their way
    (:meth:`expect` counted them in), waits up to ``max_wait_s`` for theirs, up to
    ``max_faces`` faces; then it runs one ``predict_crops`` for all, in a thread of its
    own, and hands each request its rows. Requests with another test-time augmentation
    wait for the next batch. The queue holds only requests that were let in (the service
    bounds them: :class:`Limits`'s ``max_pending``), so it cannot grow without bound.

    Parameters
    ----------
    predict_crops : callable
        ``predict_crops(crops, tta)`` -> ``(N, 7)`` probabilities, such as
        :meth:`emonet.Recognizer.predict_crops`.
    max_wait_s : float, default=0.005
        Longest wait for other requests' faces.
    max_faces : int, default=64
        Most faces in one batch (a request with more runs alone).

    Attributes
    ----------
    batches : int
        Network batches run so far.
    faces : int
        Faces read so far.
    requests : int
        Requests served so far (``requests / batches`` requests shared a batch on average).

    Examples
    --------
    >>> import asyncio
    >>> import numpy as np
    >>> from emonet.serve import FaceBatcher
    >>> batcher = FaceBatcher(lambda crops, tta: np.ones((len(crops), 7)) / 7)
    >>> async def two_requests():
    ...     crops = np.zeros((1, 48, 48), np.uint8)
    ...     return await asyncio.gather(batcher.predict(crops), batcher.predict(crops))
    >>> [rows.shape for rows in asyncio.run(two_requests())]
    [(1, 7), (1, 7)]
    >>> batcher.requests, batcher.batches
    (2, 1)
    """

    def __init__(
        self,
        predict_crops: Callable[[np.ndarray, str | None], np.ndarray],
        *,
        max_wait_s: float = 0.005,
        max_faces: int = 64,
        executor: Executor | None = None,
    ) -> None:
        self.predict_crops = predict_crops
        self.max_wait_s = float(max_wait_s)
        self.max_faces = int(max_faces)
        self._executor = executor
        self._own_executor = executor is None
        self._queue: asyncio.Queue[_Item] | None = None
        self._worker: asyncio.Task | None = None
        self._waiting: list[_Item] = []
        self._expected = 0
        self.batches = 0
        self.faces = 0
        self.requests = 0

    def expect(self, count: int = 1) -> None:
        """Say that ``count`` more requests are on their way (decoding, detecting): the
        worker waits for their faces, up to ``max_wait_s``; ``count=-1`` takes one back
        (a request that failed before it got here)."""
        self._expected = max(0, self._expected + count)

    async def predict(self, crops: np.ndarray, tta: str | None = None) -> np.ndarray:
        """The ``(N, 7)`` probabilities of ``crops``, read in a shared batch."""
        if len(crops) == 0:
            return np.empty((0, len(LABELS)), np.float32)
        loop = asyncio.get_running_loop()
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = loop.create_task(self._run())
        item = _Item(np.asarray(crops), tta, loop.create_future())
        self._queue.put_nowait(item)
        return await item.future

    async def close(self) -> None:
        """Stop the worker and its thread."""
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        if self._own_executor and self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    # ------------------------------------------------------------------ worker

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._queue is not None
        while True:
            if not self._waiting:
                self._waiting.append(await self._queue.get())
            self._drain()
            deadline = loop.time() + self.max_wait_s
            while self._expected > 0 and self._size() < self.max_faces:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                # short naps, not wait_for(get()): a get cancelled by its timeout can lose
                # an item on Python 3.11
                await asyncio.sleep(min(remaining, 0.001))
                self._drain()
            batch = self._take_batch()
            await self._run_batch(loop, batch)

    def _drain(self) -> None:
        assert self._queue is not None
        while not self._queue.empty():
            self._waiting.append(self._queue.get_nowait())

    def _size(self) -> int:
        return sum(len(item.crops) for item in self._waiting)

    def _take_batch(self) -> list[_Item]:
        """The oldest request and those of its augmentation that fit after it."""
        first = self._waiting[0]
        batch, rest, size = [], [], 0
        for item in self._waiting:
            fits = size + len(item.crops) <= self.max_faces or not batch
            if item.tta == first.tta and fits and not item.future.cancelled():
                batch.append(item)
                size += len(item.crops)
            elif not item.future.cancelled():
                rest.append(item)
        self._waiting = rest
        return batch

    async def _run_batch(self, loop: asyncio.AbstractEventLoop, batch: list[_Item]) -> None:
        if not batch:
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="emonet-network")
        crops = np.concatenate([item.crops for item in batch])
        try:
            rows = await loop.run_in_executor(
                self._executor, self.predict_crops, crops, batch[0].tta
            )
        except Exception as error:  # each request gets the error, the worker goes on
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
            return
        self.batches += 1
        self.faces += len(crops)
        self.requests += len(batch)
        start = 0
        for item in batch:
            stop = start + len(item.crops)
            if not item.future.done():
                item.future.set_result(rows[start:stop])
            start = stop
