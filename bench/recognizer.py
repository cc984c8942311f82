"""Recognizer figures, measured in one run with the bundled preset.

Prints: ``predict_crops`` throughput on real FER2013 faces (with and without mirror
averaging); one photo end to end (scikit-image's astronaut, 512x512, one face), split
into detection, alignment, features and networks; and a 640x480 video with one face and
detection on every frame (frames/s), with the peak memory of a short and a four times
longer video, each in its own process.

    python bench/recognizer.py [--preset default] [--data ../shared/data/fer2013]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import run_measured  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013"


def _median_ms(function, repeats: int) -> float:
    function()  # warm: the first call builds the networks' functions
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def write_video(path: Path, frames: int) -> Path:
    """A 640x480 clip at 25 fps: the astronaut's upper body, panning slowly."""
    import cv2
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    photo = cv2.resize(photo, (800, 800))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (640, 480))
    for i in range(frames):
        shift = int(40 + 40 * np.sin(i / 15))
        writer.write(np.ascontiguousarray(photo[shift : shift + 480, 60 + shift : 700 + shift]))
    writer.release()
    return path


def video_child(preset: str, path: str) -> None:
    """In a process of its own: run the video, print frames/s as JSON."""
    from emonet import import_tensorflow

    import_tensorflow()
    from emonet.recognize import Recognizer

    recognizer = Recognizer(preset)
    start = time.perf_counter()
    frames = faces = 0
    for frame in recognizer.predict_video(path):
        frames += 1
        faces += len(frame.faces)
    seconds = time.perf_counter() - start
    print(json.dumps({"frames": frames, "faces": faces, "seconds": seconds}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--crops", type=int, default=1024)
    parser.add_argument("--video-frames", type=int, default=150)
    parser.add_argument("--video-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.video_child:
        video_child(*args.video_child)
        return 0

    from emonet import import_tensorflow

    import_tensorflow()
    import cv2
    from skimage import data

    from emonet.features import FeatureExtractor, align_faces, detect_faces
    from emonet.models import TTA_MODES
    from emonet.recognize import Recognizer

    recognizer = Recognizer(args.preset)
    members = [m.emonet_info.model_config.model_name for m in recognizer.models_]
    print(
        f"preset {args.preset!r}: {len(members)} models ({', '.join(members)}), "
        f"test-time augmentation {recognizer.tta_!r} by default"
    )

    # crops: real PublicTest faces
    paths = sorted(Path(args.data, "val").rglob("*.jpg"))[: args.crops]
    crops = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths])
    print(f"\npredict_crops on {len(crops)} FER2013 faces (batch {recognizer.batch_size}):")
    for tta in TTA_MODES:
        ms = _median_ms(lambda tta=tta: recognizer.predict_crops(crops, tta=tta), 3)
        print(f"  tta={tta:<11s} {len(crops) / ms * 1000:8,.0f} crops/s")

    # one photo, end to end and by stage
    photo = data.astronaut()
    gray = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    total = _median_ms(lambda: recognizer.predict(photo), 20)
    boxes = detect_faces(gray, upsample=None)
    detection = _median_ms(lambda: detect_faces(gray, upsample=None), 20)
    face_crops, _ = align_faces(gray, boxes)
    alignment = _median_ms(lambda: align_faces(gray, boxes), 20)
    uses = any(m.emonet_info.uses_features for m in recognizer.models_)
    features = _median_ms(lambda: FeatureExtractor().transform(face_crops), 20) if uses else 0.0
    networks = _median_ms(lambda: recognizer.predict_crops(face_crops), 20) - features
    print(f"\none photo end to end (astronaut 512x512, {len(boxes)} face): {total:.1f} ms")
    print(f"  detection (dlib HOG, no upsampling)    {detection:6.1f} ms")
    print(f"  alignment (68 landmarks, rotate, crop) {alignment:6.1f} ms")
    print(f"  features (landmarks + HOG of the crop) {features:6.1f} ms")
    print(f"  networks ({len(members)} models)                  {networks:6.1f} ms")

    # video: frames/s and peak memory, short and 4x longer, each in a fresh process
    print("\nvideo 640x480, 25 fps, one face, detection on every frame:")
    with tempfile.TemporaryDirectory() as folder:
        for frames in (args.video_frames, 4 * args.video_frames):
            clip = write_video(Path(folder) / f"clip{frames}.mp4", frames)
            command = [sys.executable, __file__, "--video-child", args.preset, str(clip)]
            seconds, peak, done = run_measured(command)
            if done.returncode != 0:
                print(done.stderr[-2000:], file=sys.stderr)
                return 1
            result = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"  {result['frames']:4d} frames: {result['frames'] / result['seconds']:5.1f} "
                f"frames/s, {result['faces']} faces, peak memory {peak / 2**20:,.0f} MiB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
