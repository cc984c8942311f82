"""The batching queue: the crops of requests that arrive together share one network
batch, and each request gets its own rows back."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from emonet.serve import FaceBatcher


@pytest.fixture(scope="module")
def crops(val_faces) -> np.ndarray:
    return val_faces[0][:12]


def _run(batcher: FaceBatcher, parts, ttas=None):
    async def many():
        try:
            return await asyncio.gather(
                *[
                    batcher.predict(part, None if ttas is None else ttas[i])
                    for i, part in enumerate(parts)
                ]
            )
        finally:
            await batcher.close()

    return asyncio.run(many())


def test_concurrent_requests_share_one_batch(recognizer, crops):
    batcher = FaceBatcher(recognizer.predict_crops)
    parts = [crops[0:1], crops[1:4], crops[4:6], crops[6:12]]
    rows = _run(batcher, parts)
    assert (batcher.batches, batcher.requests, batcher.faces) == (1, 4, 12)
    expected = recognizer.predict_crops(crops)
    np.testing.assert_allclose(np.concatenate(rows), expected, atol=1e-5)
    assert [len(r) for r in rows] == [1, 3, 2, 6]


def test_batches_are_bounded_and_keep_to_one_augmentation(recognizer, crops):
    bounded = FaceBatcher(recognizer.predict_crops, max_faces=4)
    rows = _run(bounded, [crops[0:3], crops[3:6], crops[6:7], crops[7:12]])
    # 3 | 3+1 | 5 (a request larger than a batch runs alone)
    assert bounded.batches == 3 and [len(r) for r in rows] == [3, 3, 1, 5]
    mixed = FaceBatcher(recognizer.predict_crops)
    rows = _run(mixed, [crops[0:2], crops[2:4], crops[4:6]], ttas=["none", "flip", "none"])
    assert mixed.batches == 2
    np.testing.assert_allclose(
        rows[1], recognizer.predict_crops(crops[2:4], tta="flip"), atol=1e-5
    )
    np.testing.assert_allclose(
        rows[2], recognizer.predict_crops(crops[4:6], tta="none"), atol=1e-5
    )


def test_no_face_costs_no_batch_and_errors_reach_each_request(recognizer, crops):
    batcher = FaceBatcher(recognizer.predict_crops)
    (rows,) = _run(batcher, [crops[:0]])
    assert rows.shape == (0, 7) and batcher.batches == 0

    def broken(crops, tta):
        raise ValueError("face crops must be (N, 48, 48) grayscale")

    failing = FaceBatcher(broken)
    with pytest.raises(ValueError, match="48, 48"):
        _run(failing, [crops[:1], crops[1:2]])


def test_the_worker_waits_for_requests_on_their_way(recognizer, crops):
    """With a request announced (expect), the first one's crops wait for its."""
    batcher = FaceBatcher(recognizer.predict_crops, max_wait_s=30.0)

    async def scenario():
        batcher.expect(1)
        first = asyncio.ensure_future(batcher.predict(crops[:2]))
        for _ in range(5):
            await asyncio.sleep(0)  # the worker runs, and waits
        assert not first.done()
        batcher.expect(-1)
        second = await batcher.predict(crops[2:3])
        await batcher.close()
        return await first, second

    first, second = asyncio.run(scenario())
    assert (batcher.batches, batcher.requests) == (1, 2)
    assert len(first) == 2 and len(second) == 1
