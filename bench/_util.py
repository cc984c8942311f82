"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time


def _tree_rss(root: int) -> int:
    """Resident memory, in bytes, of a process and all its descendants (Linux)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack += [child for child, parent in parents.items() if parent == pid]
    return total


def cpu_seconds_of_children() -> float:
    """User + system CPU time of all finished child processes (and theirs) so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(command: list[str]) -> tuple[float, int, subprocess.CompletedProcess]:
    """Run a command; return (wall seconds, peak resident memory of its whole process
    tree in bytes, the completed process)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def poll() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(process.pid))
            time.sleep(0.05)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - start
    done.set()
    thread.join()
    return seconds, peak, subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
