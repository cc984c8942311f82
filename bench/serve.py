"""Load on ``emonet-serve``: 1, 4, 16 and 64 concurrent clients sending real photos.

Starts ``emonet-serve`` in a process of its own on a free loopback port (nothing leaves
this machine), sends each level its photos for a bounded time and count, then stops the
server: the run ends by itself. Prints, per level: requests/s, latency p50/p95/p99 of the
answered requests, 503s, other errors, the server's peak resident memory and its CPU
(percent of one core, ms per answered request: what bounds the throughput on a small
machine); then the batching counts (/v1/info) and the issue's targets, as ratios
measured in this one run:

- at 16 clients the throughput is at least 2x one client's (batching pays);
- no error below the queue limit (--max-pending, 32 by default: 1, 4 and 16 clients);
- above it (64 clients), 503s with Retry-After, and no other error;
- the server's memory after the run within 10% of before it.

Photos: scikit-image's astronaut (512x512) and FER2013 PublicTest faces, one of each
label, scaled to 160 px on a 320x320 gray photo (JPEG), sent in turn.

    flock /tmp/emonet-bench.lock python bench/serve.py [--preset default] [--seconds 8]
        [--requests 400] [--clients 1,4,16,64] [--json out/bench_serve.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import _tree_rss  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013"


def photos(data_root: Path) -> list[bytes]:
    """The astronaut, and one FER2013 PublicTest face per label on a gray photo, as JPEG."""
    import cv2
    from skimage import data

    from emonet import LABELS

    def encode(rgb: np.ndarray) -> bytes:
        return cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()

    found = [encode(data.astronaut())]
    for label in LABELS:
        files = sorted((data_root / "val" / label).glob("*.jpg"))
        if not files:
            continue
        face = cv2.imread(str(files[0]), cv2.IMREAD_GRAYSCALE)
        canvas = np.full((320, 320), 128, np.uint8)
        canvas[80:240, 80:240] = cv2.resize(face, (160, 160), interpolation=cv2.INTER_CUBIC)
        found.append(encode(cv2.cvtColor(canvas, cv2.COLOR_GRAY2RGB)))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux)."""
    with open(f"/proc/{pid}/stat") as stream:
        fields = stream.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident memory of the server and its worker processes (Linux)."""
    return _tree_rss(pid)


class Server:
    def __init__(self, preset: str, max_pending: int, wait_ms: float, processes: int) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-m",
            "emonet.cli.serve",
            "--preset",
            preset,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--max-pending",
            str(max_pending),
            "--batch-wait-ms",
            str(wait_ms),
            "--detect-processes",
            str(processes),
            "--log-level",
            "warning",
        ]
        self.log = Path(tempfile.gettempdir()) / f"emonet-bench-serve-{self.port}.log"
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=open(self.log, "wb")
        )

    def wait_ready(self, seconds: float = 300) -> None:
        import httpx

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"emonet-serve ended: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise SystemExit("emonet-serve not ready in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def level(url: str, clients: int, images: list[bytes], seconds: float, most: int):
    """``clients`` clients, each sending a photo and awaiting the answer, until the time
    or the count is up: (latencies of 200s, statuses, wall seconds)."""
    import httpx

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    retry_after_ok = True
    sent = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:

        async def one_client(index: int) -> None:
            nonlocal sent, retry_after_ok
            position = index
            while time.perf_counter() < deadline and sent < most:
                sent += 1
                body = images[position % len(images)]
                position += 1
                start = time.perf_counter()
                try:
                    answer = await client.post(
                        "/v1/predict", content=body, headers={"content-type": "image/jpeg"}
                    )
                    status = answer.status_code
                except httpx.HTTPError:
                    status = -1
                if status == 200:
                    latencies.append(time.perf_counter() - start)
                elif status == 503:
                    retry_after_ok &= answer.headers.get("retry-after") is not None
                    await asyncio.sleep(0.05)  # a polite client backs off a little
                statuses[status] = statuses.get(status, 0) + 1

        start = time.perf_counter()
        await asyncio.gather(*[one_client(i) for i in range(clients)])
        wall = time.perf_counter() - start
    return latencies, statuses, wall, retry_after_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--seconds", type=float, default=8.0, help="per level (default 8)")
    parser.add_argument("--requests", type=int, default=400, help="most requests a level")
    parser.add_argument("--clients", default="1,4,16,64")
    parser.add_argument("--max-pending", type=int, default=32)
    parser.add_argument("--batch-wait-ms", type=float, default=5.0)
    parser.add_argument(
        "--detect-processes",
        type=int,
        default=2,
        help="the server's (default 2, as emonet-serve's on 2 cores; 0: threads)",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    levels = [int(n) for n in args.clients.split(",")]
    images = photos(args.data)
    print(
        f"{len(images)} photos, preset {args.preset}, max-pending {args.max_pending}, "
        f"batch wait {args.batch_wait_ms} ms, detect processes {args.detect_processes}, "
        f"up to {args.seconds} s or {args.requests} "
        "requests a level",
        flush=True,
    )
    import httpx

    server = Server(args.preset, args.max_pending, args.batch_wait_ms, args.detect_processes)
    rows, report = [], {}
    try:
        server.wait_ready()
        for body in images * 2:  # warm: the first calls build the networks' functions
            httpx.post(f"{server.url}/v1/predict", content=body, timeout=120)
        time.sleep(1.0)
        before = rss_bytes(server.process.pid)
        peak = {"value": before}
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                peak["value"] = max(peak["value"], rss_bytes(server.process.pid))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        print(
            f"{'clients':>7} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
            f"{'200':>5} {'503':>5} {'errors':>6} {'peak MiB':>8} {'cpu %':>6} {'cpu ms/req':>10}",
            flush=True,
        )
        for clients in levels:
            peak["value"] = rss_bytes(server.process.pid)
            cpu_before = cpu_seconds(server.process.pid)
            latencies, statuses, wall, retry_ok = asyncio.run(
                level(server.url, clients, images, args.seconds, args.requests)
            )
            cpu = cpu_seconds(server.process.pid) - cpu_before
            ok = statuses.get(200, 0)
            errors = sum(n for s, n in statuses.items() if s not in (200, 503))
            ms = np.percentile(np.array(latencies) * 1000, [50, 95, 99]) if latencies else [0] * 3
            row = {
                "clients": clients,
                "requests_per_s": ok / wall,
                "p50_ms": float(ms[0]),
                "p95_ms": float(ms[1]),
                "p99_ms": float(ms[2]),
                "ok": ok,
                "503": statuses.get(503, 0),
                "errors": errors,
                "retry_after": retry_ok,
                "peak_rss_mib": peak["value"] / 2**20,
                "server_cpu_percent": 100 * cpu / wall,
                "server_cpu_ms_per_request": 1000 * cpu / max(ok, 1),
            }
            rows.append(row)
            print(
                f"{clients:>7} {row['requests_per_s']:>7.1f} {row['p50_ms']:>7.0f} "
                f"{row['p95_ms']:>7.0f} {row['p99_ms']:>7.0f} {ok:>5} {row['503']:>5} "
                f"{errors:>6} {row['peak_rss_mib']:>8.0f} {row['server_cpu_percent']:>6.0f} "
                f"{row['server_cpu_ms_per_request']:>10.1f}",
                flush=True,
            )
            time.sleep(0.5)
        stop.set()
        watcher.join()
        time.sleep(2.0)
        after = rss_bytes(server.process.pid)
        if server.process.poll() is not None:
            raise SystemExit(f"emonet-serve died during the run: {server.log.read_text()[-3000:]}")
        info = httpx.get(f"{server.url}/v1/info", timeout=30).json()["batching"]
    finally:
        server.stop()
        server.log.unlink(missing_ok=True)

    by = {row["clients"]: row for row in rows}
    speedup = by[16]["requests_per_s"] / by[1]["requests_per_s"] if 1 in by and 16 in by else None
    below = [row for row in rows if row["clients"] < args.max_pending]
    above = [row for row in rows if row["clients"] > args.max_pending]
    memory = after / before
    targets = {
        "16 clients >= 2x one client's throughput": speedup is not None and speedup >= 2,
        "no error below the queue limit": all(r["errors"] == 0 and r["503"] == 0 for r in below),
        "503s with Retry-After above it, no other error": bool(above)
        and all(r["503"] > 0 and r["errors"] == 0 and r["retry_after"] for r in above),
        "memory after within 10% of before": abs(memory - 1) <= 0.10,
    }
    print(
        f"batching: {info['requests']} requests in {info['batches']} network batches "
        f"({info['requests'] / max(info['batches'], 1):.2f} requests a batch), "
        f"{info['faces']} faces"
    )
    if speedup is not None:
        print(f"throughput at 16 clients / 1 client: {speedup:.2f}x")
    print(
        f"server memory: {before / 2**20:.0f} MiB before, {after / 2**20:.0f} MiB after "
        f"({memory:.3f}x)"
    )
    for name, met in targets.items():
        print(f"  [{'met' if met else 'NOT met'}] {name}")
    report = {
        "preset": args.preset,
        "max_pending": args.max_pending,
        "batch_wait_ms": args.batch_wait_ms,
        "detect_processes": args.detect_processes,
        "levels": rows,
        "speedup_16_over_1": speedup,
        "rss_before_mib": before / 2**20,
        "rss_after_mib": after / 2**20,
        "batching": info,
        "targets": targets,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
