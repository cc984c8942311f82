"""``emonet-predict`` on one photo, start to end: Keras on TensorFlow against Keras on NumPy.

The bundled presets' networks are int8 LiteRT files, which need no Keras backend:
``emonet-predict`` (and ``emonet-serve``, and the Ray actors of ``emonet.distributed``)
then import Keras on NumPy unless ``KERAS_BACKEND`` names a backend. This runs
``emonet-predict astronaut.jpg --preset P --json`` in fresh processes, alternating
``KERAS_BACKEND=tensorflow`` (what every start paid before) with no ``KERAS_BACKEND``
(NumPy), and prints the medians, their ratio and whether the answers are the same::

    flock /tmp/emonet-bench.lock .venv/bin/python bench/startup.py [--preset fast] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
from skimage import data


def run_once(photo: Path, preset: str, backend: str | None) -> tuple[float, dict]:
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    if backend:
        env["KERAS_BACKEND"] = backend
    command = [sys.executable, "-m", "emonet.cli.predict", str(photo), "--preset", preset]
    start = time.perf_counter()
    done = subprocess.run([*command, "--json"], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"emonet-predict failed: {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--runs", type=int, default=5, help="runs of each, alternating")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="emonet_startup_"))
    photo = folder / "astronaut.jpg"
    cv2.imwrite(str(photo), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    times: dict[str, list[float]] = {"tensorflow": [], "numpy": []}
    answers: dict[str, dict] = {}
    run_once(photo, args.preset, None)  # warm the file cache, not counted
    for _ in range(args.runs):
        for backend in ("tensorflow", None):
            seconds, answer = run_once(photo, args.preset, backend)
            times[backend or "numpy"].append(seconds)
            answers[backend or "numpy"] = answer["results"][0]["faces"]
    medians = {name: statistics.median(runs) for name, runs in times.items()}
    print(f"emonet-predict astronaut.jpg --preset {args.preset}, {args.runs} runs each:")
    for name, label in (("tensorflow", "Keras on TensorFlow:"), ("numpy", "Keras on NumPy:")):
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"  {label:21s}median {medians[name]:.2f} s  ({runs})")
    print(f"  NumPy / TensorFlow: {medians['numpy'] / medians['tensorflow']:.2f}x the time")
    same = answers["tensorflow"] == answers["numpy"]
    print(f"  the same faces and probabilities: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
