"""Feature extraction figures, measured in one run.

Prints: the scikit-image window loop against ``sliding_hog`` (faces/s and ratio, and
that they agree bit for bit), dlib landmarks in ms/face, and ``emonet-extract-features``
on all shared FER2013 images with --jobs 1 and --jobs 2 (wall time, faces/s, peak memory
of the whole process tree), then peak memory on a CSV input and one ten times larger.

    python bench/features.py [--data ../shared/data/fer2013] [--skip-cli]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import cpu_seconds_of_children, run_measured  # noqa: E402

from emonet.data import load_fer2013  # noqa: E402
from emonet.features import extract_landmarks, sliding_hog, sliding_hog_reference  # noqa: E402
from emonet.features._dlib_models import shape_predictor  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013"


def bench_hog(faces: np.ndarray) -> None:
    sliding_hog(faces[:8])  # builds the lookup tables once
    start = time.perf_counter()
    reference = np.stack([sliding_hog_reference(face) for face in faces])
    loop = time.perf_counter() - start
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        fast = sliding_hog(faces)
        best = min(best, time.perf_counter() - start)
    equal = np.array_equal(fast, reference)
    print(f"HOG on {len(faces)} faces ({fast.shape[1]} values each), bit-identical: {equal}")
    for name, seconds in [("skimage window loop", loop), ("sliding_hog", best)]:
        per_face = seconds / len(faces) * 1e3
        print(f"  {name:<20}: {len(faces) / seconds:9,.0f} faces/s ({per_face:.3f} ms/face)")
    print(f"  {'speed-up':<20}: {loop / best:9.1f}x")


def bench_landmarks(faces: np.ndarray) -> None:
    shape_predictor()
    start = time.perf_counter()
    extract_landmarks(faces)
    seconds = time.perf_counter() - start
    print(
        f"landmarks (dlib 68-point, whole crop): {seconds / len(faces) * 1e3:.2f} ms/face "
        f"on {len(faces)} faces"
    )


def bench_cli(data: Path, work: Path) -> None:
    command = [sys.executable, "-m", "emonet.cli.extract_features", "-q", "--overwrite"]
    for jobs in (1, 2):
        cpu_before = cpu_seconds_of_children()
        seconds, peak, result = run_measured(
            [*command, str(data), "-o", str(work / f"all_j{jobs}.h5"), "--jobs", str(jobs)]
        )
        if result.returncode:
            raise SystemExit(result.stderr)
        n = int(result.stdout.split(": ", 1)[1].split(" faces")[0].replace(",", ""))
        cpu = cpu_seconds_of_children() - cpu_before
        print(
            f"emonet-extract-features on {data.name}/ ({n:,} faces), --jobs {jobs}: "
            f"{seconds:5.1f} s wall, {n / seconds:6,.0f} faces/s, {cpu:5.1f} CPU s "
            f"({cpu / n * 1e3:.2f} ms/face), peak memory {peak / 2**20:5.0f} MiB"
        )


def bench_memory_growth(data: Path, work: Path) -> None:
    val = load_fer2013(data, usage="PublicTest")
    peaks = {}
    for times in (1, 10):
        path = work / f"val_x{times}.csv"
        with open(path, "w") as f:
            f.write("emotion,pixels,Usage\n")
            rows = [
                f"{label},{' '.join(map(str, image.ravel()))},PublicTest\n"
                for image, label in zip(val.images, val.labels, strict=True)
            ]
            for _ in range(times):
                f.writelines(rows)
        seconds, peak, result = run_measured(
            [
                sys.executable,
                "-m",
                "emonet.cli.extract_features",
                "-q",
                "--overwrite",
                str(path),
                "-o",
                str(work / f"val_x{times}.h5"),
                "--jobs",
                "2",
            ]
        )
        if result.returncode:
            raise SystemExit(result.stderr)
        peaks[times] = peak
        print(
            f"CSV input of {times * len(val):6,} faces, --jobs 2: {seconds:5.1f} s wall, peak "
            f"memory {peak / 2**20:5.0f} MiB"
        )
    print(f"  peak memory ratio 10x input / 1x input: {peaks[10] / peaks[1]:.2f}")


def print_load() -> None:
    """The machine's load, since every other process on it skews the wall times."""
    print(
        f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--faces", type=int, default=500, help="faces for the HOG/landmarks runs")
    parser.add_argument("--skip-cli", action="store_true")
    args = parser.parse_args()

    files = sorted((args.data / "val").glob("*/*.jpg"))[:: max(1, 3589 // args.faces)]
    import cv2

    faces = np.stack([cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files[: args.faces]])
    bench_hog(faces)
    bench_landmarks(faces)
    print_load()
    if args.skip_cli:
        return
    with tempfile.TemporaryDirectory() as tmp:
        bench_cli(args.data, Path(tmp))
        bench_memory_growth(args.data, Path(tmp))
    print_load()


if __name__ == "__main__":
    main()
