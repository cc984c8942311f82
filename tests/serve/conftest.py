"""Real parts for the service's tests: the "fast" preset, real photos (scikit-image's
astronaut says happy), a real uvicorn process on a free loopback port, and a real
headless Chromium driven by Playwright."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

#: Debian's chromium (``.ci/run`` installs it); EMONET_CHROMIUM names another.
CHROMIUM = os.environ.get("EMONET_CHROMIUM", "/usr/bin/chromium")


def jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """An RGB image as JPEG bytes."""
    ok, buffer = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    assert ok
    return buffer.tobytes()


@pytest.fixture(scope="session")
def recognizer():
    from emonet import Recognizer

    return Recognizer("fast")


@pytest.fixture(scope="session")
def face_jpeg() -> bytes:
    """The astronaut (one face, happy), 512x512."""
    return jpeg(data.astronaut())


@pytest.fixture(scope="session")
def coffee_jpeg() -> bytes:
    """A cup of coffee: no face."""
    return jpeg(data.coffee())


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory) -> Path:
    """Where the browser tests save their screenshots: $EMONET_TEST_ARTIFACTS, else a
    temporary folder."""
    folder = os.environ.get("EMONET_TEST_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("serve-artefacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """``emonet-serve`` in its own process, on a free loopback port."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "serve.log"
        command = [sys.executable, "-m", "emonet.cli.serve", "--port", str(self.port), *args]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"), env=os.environ
        )

    def wait_ready(self, tries: int = 600) -> None:
        import httpx

        for _ in range(tries):  # 0.25 s apart: the models take seconds to load
            if self.process.poll() is not None:
                raise AssertionError(f"emonet-serve ended: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"emonet-serve not ready: {self.log.read_text()[-2000:]}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@pytest.fixture(scope="package", autouse=True)
def _live_process(tmp_path_factory):
    """The live server's process, started with the first test of this folder so that its
    models load while the in-process tests run: the fast preset, at most 3 requests at
    once, no API key (the page's tests need none)."""
    server = LiveServer(tmp_path_factory.mktemp("live"), "--preset", "fast", "--max-pending", "3")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def live_server(_live_process):
    """The live server, ready."""
    _live_process.wait_ready()
    return _live_process


def write_y4m(path: Path, image: np.ndarray, frames: int = 3) -> Path:
    """A few frames of an RGB image as a YUV4MPEG2 (4:2:0) video, which Chromium's
    fake capture device plays in a loop."""
    height, width = image.shape[:2]
    yuv = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), cv2.COLOR_BGR2YUV_I420)
    with open(path, "wb") as stream:
        stream.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            stream.write(b"FRAME\n" + yuv.tobytes())
    return path


@pytest.fixture(scope="session")
def webcam_video(tmp_path_factory) -> Path:
    """The astronaut in a 640x480 frame, as the fake webcam's video."""
    frame = np.full((480, 640, 3), 255, np.uint8)
    frame[:, 80:560] = cv2.resize(data.astronaut(), (480, 480))
    return write_y4m(tmp_path_factory.mktemp("webcam") / "face.y4m", frame)


@pytest.fixture(scope="package")
def browser(webcam_video):
    """A real headless Chromium (Debian's), with a fake webcam playing ``webcam_video``.
    A missing browser fails the tests: they must not pass unseen. Closed with this folder's
    tests: Playwright's sync API holds an event loop in the main thread while it runs, and
    later tests (doctests) call ``asyncio.run``."""
    if not Path(CHROMIUM).is_file() and not shutil.which(CHROMIUM):
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install Debian's chromium package (.ci/run does), "
            "or name one with EMONET_CHROMIUM"
        )
    from playwright.sync_api import sync_playwright

    args = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={webcam_video}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium's sandbox refuses to run as root
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            yield chromium
        finally:
            chromium.close()


def png_with_size(width: int, height: int) -> bytes:
    """A real PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's
    header: the pixels are never there)."""
    import struct
    import zlib

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, "PNG")
    raw = bytearray(buffer.getvalue())
    start = 8 + 8  # signature, then the IHDR chunk's length and type
    raw[start : start + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(raw[start - 4 : start + 13])) & 0xFFFFFFFF
    raw[start + 13 : start + 17] = struct.pack(">I", crc)
    return bytes(raw)
