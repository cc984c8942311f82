"""emonet.distributed against one process: photos/s with 1 and 2 Ray actors.

The same N photos (default 5,000) go through the whole path. By default (``--kind photos``)
each is a FER2013 face upscaled to 150 px and pasted at a random place on a plain 400x400
photo, as the photo benchmark's set (a) (``bench/photos.py``): the detector searches the
whole photo, as on what users give. ``--kind crops`` writes the 48x48 FER2013 files
themselves: little work a photo, so the fixed costs (the actors' start, a task's trip
through Ray) weigh more. The photos go through:

1. one process: a fresh Python that loads ``Recognizer("fast")`` and predicts the photos
   in groups of 32 (as ``emonet-predict`` does), wall time including the import of
   Keras and the model's load; once before the Ray runs and once after (the machine's
   load drifts), compared by their mean;
2. ``emonet.distributed.predict`` with 1 actor, then with 2 actors, on a local Ray
   started once beforehand (its start is reported apart): wall time of each call,
   including the actors' start and model load, and when the first task was written;
3. two such processes at once, each with half the photos: what two workers can reach
   on this machine without Ray (its two cores do not give two cores' speed).

Targets (issue 29): Ray's overhead at 1 actor <= 25% of the in-process time; 2 actors
>= 1.6x 1 actor. Other programs share this machine's 2 cores: the load average before
and after is printed with the figures. Run it under the lock::

    flock /tmp/emonet-bench.lock .venv/bin/python bench/distributed.py
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

FER = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013"
OUT = Path(tempfile.gettempdir()) / "emonet_bench_distributed"

IN_PROCESS = """
import sys, time
from pathlib import Path
start = time.perf_counter()
from emonet import Recognizer
from emonet.recognize import find_inputs
recognizer = Recognizer("fast")
photos, _, _ = find_inputs(sys.argv[1])
part, parts = int(sys.argv[2]), int(sys.argv[3])  # this process's share of the photos
photos = photos[part::parts]
faces = 0
for first in range(0, len(photos), 32):
    faces += sum(len(r.faces) for r in recognizer.predict(photos[first:first + 32]))
print(faces, time.perf_counter() - start)
"""


#: ``--kind photos``: a face of FACE px on a plain SIDE x SIDE photo (bench/photos.py's set a)
SIDE, FACE = 400, 150


def make_photos(folder: Path, n: int, kind: str) -> None:
    files = sorted((FER / "train").glob("*/*.jpg")) + sorted((FER / "val").glob("*/*.jpg"))
    step = max(1, len(files) // n)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for index, path in enumerate(files[::step][:n]):
        image = cv2.imread(str(path))
        if kind == "photos":
            photo = np.full((SIDE, SIDE, 3), int(rng.integers(112, 145)), np.uint8)
            x, y = (int(v) for v in rng.integers(0, SIDE - FACE + 1, size=2))
            photo[y : y + FACE, x : x + FACE] = cv2.resize(
                image, (FACE, FACE), interpolation=cv2.INTER_CUBIC
            )
            image = photo
        cv2.imwrite(str(folder / f"{index:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95])


def in_process(folder: Path, figures: dict, name: str, processes: int = 1) -> None:
    """Fresh processes at once, each: import, load Recognizer("fast"), predict its share
    of the photos (every ``processes``-th). Two at once on the 2 cores are the most two
    actors can reach on this machine, Ray or not."""
    commands = [
        [sys.executable, "-c", IN_PROCESS, str(folder), str(part), str(processes)]
        for part in range(processes)
    ]
    cpu = _children_cpu()
    start = time.perf_counter()
    running = [subprocess.Popen(c, stdout=subprocess.PIPE, text=True) for c in commands]
    outputs = [process.communicate()[0] for process in running]
    wall = time.perf_counter() - start
    cpu = _children_cpu() - cpu
    if any(process.returncode for process in running):
        raise SystemExit(f"the in-process run failed: {outputs}")
    faces = sum(int(output.split()[0]) for output in outputs)
    n = figures["photos"]
    figures[name] = {"wall_s": wall, "faces": faces, "cpu_s": cpu, "processes": processes}
    label = "in-process Recognizer:" if processes == 1 else f"{processes} processes at once:"
    print(
        f"{label:22s} {wall:7.1f} s  {n / wall:6.1f} photos/s  {faces} faces; {cpu:.1f} CPU s",
        flush=True,
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class ActorCPU:
    """CPU seconds of the actors' processes, sampled from /proc while a run goes on
    (the last half second of each actor is missed: a slight undercount). An actor of an
    earlier run that is still winding down counts only what it spends during this one."""

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self.before: dict[int, float] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> ActorCPU:
        self._sample(self.before)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()

    def _poll(self) -> None:
        while not self.done.wait(0.5):
            self._sample(self.seen)

    @staticmethod
    def _sample(into: dict[int, float]) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if b"MapWorker(MapBatches(FacePredictor" not in (entry / "cmdline").read_bytes():
                    continue
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            into[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick

    @property
    def seconds(self) -> float:
        return sum(cpu - self.before.get(pid, 0.0) for pid, cpu in self.seen.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=5000)
    parser.add_argument(
        "--kind",
        choices=("photos", "crops"),
        default="photos",
        help="faces pasted on 400x400 photos (default), or the 48x48 FER2013 files",
    )
    args = parser.parse_args()
    folder = OUT / f"{args.kind}_{args.photos}"
    if not folder.is_dir() or len(list(folder.glob("*.jpg"))) != args.photos:
        shutil.rmtree(folder, ignore_errors=True)
        make_photos(folder, args.photos, args.kind)
    load_before = os.getloadavg()
    figures: dict = {"photos": args.photos, "kind": args.kind, "load_before": load_before}
    print(f"{args.photos} {args.kind} in {folder}", flush=True)

    in_process(folder, figures, "in_process_before")

    import ray

    from emonet.distributed import predict

    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    start = time.perf_counter()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
        _temp_dir=str(Path(tempfile.gettempdir()) / "ray"),
    )
    figures["ray_init_s"] = time.perf_counter() - start
    print(f"ray.init (local, 2 CPUs): {figures['ray_init_s']:.1f} s", flush=True)
    try:
        for actors in (1, 2):
            output = OUT / f"faces_{actors}.parquet"
            shutil.rmtree(output, ignore_errors=True)
            times: list[float] = []
            start = time.perf_counter()
            with ActorCPU() as actor_cpu:
                summary = predict(
                    folder,
                    output,
                    preset="fast",
                    num_actors=actors,
                    progress=lambda done, total, times=times: (
                        done and times.append(time.perf_counter())
                    ),
                )
            wall = time.perf_counter() - start
            figures[f"actors_{actors}"] = {
                "wall_s": wall,
                "faces": summary.faces,
                "first_task_s": times[0] - start,
                "actor_cpu_s": actor_cpu.seconds,
            }
            print(
                f"Ray, {actors} actor(s):       {wall:7.1f} s  {args.photos / wall:6.1f} "
                f"photos/s  {summary.faces} faces; first task written after "
                f"{times[0] - start:.1f} s; {actor_cpu.seconds:.1f} CPU s in the actors",
                flush=True,
            )
    finally:
        ray.shutdown()
    # once before and once after the Ray runs: the machine's load drifts
    in_process(folder, figures, "in_process_after")
    in_process(folder, figures, "in_process_2", processes=2)
    one, two = figures["actors_1"], figures["actors_2"]
    alone = (figures["in_process_before"]["wall_s"] + figures["in_process_after"]["wall_s"]) / 2
    overhead = one["wall_s"] / alone - 1
    speedup = two["wall_s"] and one["wall_s"] / two["wall_s"]
    figures.update(
        overhead_1_actor=overhead,
        speedup_2_actors=speedup,
        load_after=os.getloadavg(),
    )
    print(
        f"Ray's overhead at 1 actor: {overhead:+.0%} of the in-process time "
        f"(target <= +25%: {'met' if overhead <= 0.25 else 'NOT met'})"
    )
    print(
        f"2 actors / 1 actor: {speedup:.2f}x "
        f"(target >= 1.6x: {'met' if speedup >= 1.6 else 'NOT met'})"
    )
    # after the first task is written: the actors' start (a Python worker, emonet and its
    # models imported) left out, what a longer job approaches
    steady = (one["wall_s"] - one["first_task_s"]) / max(two["wall_s"] - two["first_task_s"], 1e-9)
    figures["speedup_2_actors_after_start"] = steady
    print(
        f"2 actors / 1 actor after the first task written (actors' start left out): {steady:.2f}x"
    )
    ceiling = alone / figures["in_process_2"]["wall_s"]
    figures["speedup_2_processes"] = ceiling
    print(
        f"2 in-process recognizers at once / 1 (this machine's ceiling for 2 workers): "
        f"{ceiling:.2f}x; 2 actors reach {speedup / ceiling:.0%} of it"
    )
    cpu_alone = (figures["in_process_before"]["cpu_s"] + figures["in_process_after"]["cpu_s"]) / 2
    print(
        f"CPU s per 1,000 photos (model loads included): in-process "
        f"{1000 * cpu_alone / args.photos:.1f}, 1 actor "
        f"{1000 * one['actor_cpu_s'] / args.photos:.1f}, 2 actors "
        f"{1000 * two['actor_cpu_s'] / args.photos:.1f}; per core, 1 actor: "
        f"{args.photos / one['actor_cpu_s']:.0f} photos/s"
    )
    print(
        f"load average before {load_before[0]:.1f}, after {figures['load_after'][0]:.1f} "
        "(other programs share the 2 cores)"
    )
    (OUT / f"figures_{args.kind}.json").write_text(json.dumps(figures, indent=1))
    print(f"wrote {OUT / f'figures_{args.kind}.json'}")


if __name__ == "__main__":
    main()
