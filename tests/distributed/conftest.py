"""A real local Ray (2 CPUs) for the session, and one folder of real inputs.

The inputs: 500 FER2013 faces from PublicTest as photos (every 10th pasted, upscaled, into
a larger photo), two short videos of upscaled faces (mp4 and MJPG avi), a truncated JPEG
and a text file named ``.jpg``. The reference: the same inputs through one in-process
:class:`emonet.Recognizer` with the bundled "fast" preset.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

N_PHOTOS = 500
BAD_FILES = ("corrupt.jpg", "notes.jpg")


@pytest.fixture(scope="session")
def ray_session():
    ray = pytest.importorskip("ray")
    # Ray's C++ log lines stay out of the test output, as emonet.distributed keeps them
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
        _temp_dir=str(Path(tempfile.gettempdir()) / "ray"),
    )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def inputs(tmp_path_factory, fer_root) -> Path:
    folder = tmp_path_factory.mktemp("collection")
    (folder / "photos" / "big").mkdir(parents=True)
    files = sorted((fer_root / "val").glob("*/*.jpg"))
    files = files[:: len(files) // N_PHOTOS][:N_PHOTOS]
    for index, path in enumerate(files):
        image = cv2.imread(str(path))
        if index % 10 == 0:  # a face of ~190 px in a 400x300 photo
            photo = np.full((300, 400, 3), 90, np.uint8)
            photo[50:242, 100:292] = cv2.resize(image, (192, 192), interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(folder / "photos" / "big" / f"{index:04d}.png"), photo)
        else:
            cv2.imwrite(str(folder / "photos" / f"{index:04d}.jpg"), image)
    for number, (fourcc, suffix) in enumerate((("mp4v", ".mp4"), ("MJPG", ".avi"))):
        writer = cv2.VideoWriter(
            str(folder / f"clip{number}{suffix}"),
            cv2.VideoWriter_fourcc(*fourcc),
            10.0,
            (192, 192),
        )
        for frame in range(30):  # 3 s: a new face every half second
            image = cv2.imread(str(files[frame // 5 + 7 * number]))
            writer.write(cv2.resize(image, (192, 192), interpolation=cv2.INTER_CUBIC))
        writer.release()
    (folder / "photos" / "notes.jpg").write_text("not an image, named .jpg\n")
    data = files[0].read_bytes()
    (folder / "photos" / "corrupt.jpg").write_bytes(data[: len(data) // 3])
    return folder


@pytest.fixture(scope="session")
def reference(inputs) -> list[dict]:
    """The rows of one in-process Recognizer("fast"), in the inputs' order."""
    from emonet import Recognizer
    from emonet.recognize import VideoResult, find_inputs, video_info

    photos, videos, _ = find_inputs(inputs)
    good = [path for path in photos if path.name not in BAD_FILES]
    recognizer = Recognizer("fast")
    rows = [row for result in recognizer.predict(good) for row in result.to_rows()]
    for path in videos:
        info = video_info(path)
        frames = list(recognizer.predict_video(path))
        rows += VideoResult(str(path), info["fps"], info["frames"], 1, frames).to_rows()
    return rows
