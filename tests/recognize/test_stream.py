"""``Recognizer.stream``: frames from a list, a file, a slow consumer's bounded buffer,
a missing camera; and ``emonet-predict --camera``."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from emonet import Recognizer
from emonet.cli.predict import main
from emonet.recognize import CameraError, FrameStream
from tests.tracking.scenes import write_video


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer("fast")


@pytest.fixture(scope="module")
def frames(astronaut) -> list[np.ndarray]:
    """The astronaut at half size, moving right 4 px a frame: 6 frames."""
    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    return [np.roll(small, 4 * step, axis=1) for step in range(6)]


def test_stream_from_a_list_with_times(recognizer, frames):
    times = [0.0, 0.5, 0.75, 1.5, 1.6, 2.0]
    with recognizer.stream(list(zip(frames, times, strict=True)), keep_images=True) as stream:
        assert isinstance(stream, FrameStream) and not stream.live
        results = list(stream)
    assert [r.time_s for r in results] == times and [r.index for r in results] == list(range(6))
    assert all(len(r.faces) == 1 and r.faces[0].track_id == 1 for r in results)
    assert results[0].image.shape == (256, 256, 3)
    assert stream.stats() == {"frames_read": 6, "frames_done": 6, "dropped": 0, "max_buffered": 4}
    lefts = [r.faces[0].box[0] for r in results]
    assert lefts[-1] - lefts[0] >= 12  # she moves right


def test_stream_from_a_file_matches_predict_video(recognizer, frames, tmp_path):
    path = write_video(tmp_path / "clip.avi", frames, 10.0)
    with recognizer.stream(path, every=2) as stream:
        streamed = list(stream)
    read = list(recognizer.predict_video(path, 2))
    assert [r.index for r in streamed] == [r.index for r in read] == [0, 2, 4]
    assert [r.time_s for r in streamed] == pytest.approx([0.0, 0.2, 0.4])
    for a, b in zip(streamed, read, strict=True):
        assert [f.box for f in a.faces] == [f.box for f in b.faces]
        assert [f.track_id for f in a.faces] == [f.track_id for f in b.faces] == [1]
    # closed early: the file is released, the thread gone
    stream = recognizer.stream(path)
    next(stream)
    stream.close()
    assert not stream._thread.is_alive() and list(stream) == []


def test_a_slow_consumer_drops_frames_and_counts_them(recognizer):
    """A source faster than the consumer: the buffer stays bounded, the rest dropped."""
    exhausted = threading.Event()
    total = 60

    def source():
        for index in range(total):
            yield np.full((48, 64), index % 200, np.uint8)
        exhausted.set()

    stream = recognizer.stream(source(), drop=True, buffer=3)
    with stream:
        results = [next(stream)]
        assert exhausted.wait(60)  # the consumer sleeps while the source runs dry
        results += list(stream)
    assert stream.max_buffered <= 3
    assert stream.dropped > 0 and stream.dropped + len(results) == total
    assert len(results) <= 3 + 2  # what was waiting, and what was taken before
    indices = [r.index for r in results]
    assert indices == sorted(indices) and indices[-1] == total - 1  # the latest kept


def test_missing_camera_and_bad_sources(recognizer, frames, capsys):
    with pytest.raises(CameraError, match="camera 97: cannot be opened"):
        recognizer.stream(97)
    assert isinstance(CameraError("x"), OSError)
    with pytest.raises(ValueError, match="one image"):
        recognizer.stream(frames[0])
    with pytest.raises(ValueError, match="camera index, a video file"):
        recognizer.stream(3.5)
    with pytest.raises(ValueError, match="expected an image or"):
        list(recognizer.stream([(frames[0], 0.0, "x")]))
    with pytest.raises(ValueError, match="buffer"):
        recognizer.stream(frames, buffer=0)
    status = main(["--camera", "97", "--duration", "1", "--preset", "fast"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1 and err[-1].startswith("emonet-predict: error: camera 97: cannot be")
    assert not any("WARN" in line for line in err)
    assert main(["--preset", "fast"]) == 2
    assert "give a PATH" in capsys.readouterr().err
    assert main(["--camera", "0", "--annotate", "out", "--preset", "fast"]) == 2
    assert "live window" in capsys.readouterr().err
    assert main(["clip.mp4", "--duration", "5"]) == 2
    assert "--duration stops --camera" in capsys.readouterr().err


def test_stream_from_a_url_on_loopback(recognizer, frames, tmp_path):
    """A URL is a live source: timed by the clock given, frames dropped when behind."""
    import functools
    import http.server
    import itertools

    write_video(tmp_path / "clip.avi", frames, 10.0)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ticks = itertools.count()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/clip.avi"
        with recognizer.stream(url, clock=lambda: next(ticks) * 0.25, buffer=8) as stream:
            assert stream.live
            results = list(stream)
    finally:
        server.shutdown()
    assert stream.frames_read == 6 and len(results) + stream.dropped == 6
    times = [r.time_s for r in results]
    assert times == sorted(times) and all(t > 0 for t in times)  # the clock's, not fps
    assert {f.track_id for r in results for f in r.faces} == {1}
