"""``emonet-predict --ray [ADDRESS] --out FOLDER PATH ...``: the same recognition on Ray.

The options and the work of ``emonet-predict`` on a Ray cluster (a local Ray by
default): :func:`add_ray_options` adds them to the command's parser, and :func:`run_ray`
does the work with :func:`emonet.distributed.predict`.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from emonet.cli._common import printable_path

__all__ = ["add_ray_options", "run_ray", "wants_ray"]

#: Options of emonet-predict that have no meaning with --ray.
_NOT_WITH_RAY = {
    "json": "--json",
    "csv": "--csv",
    "annotate": "--annotate",
    "models": "--models",
    "ensemble": "--ensemble",
    "camera": "--camera",
    "summary": "--summary",
    "explain": "--explain",
}
_ADDRESS = re.compile(r"^(auto|local|ray://.+|[\w.\-]+:\d+)$")


def add_ray_options(parser: argparse.ArgumentParser) -> None:
    """The ``--ray``, ``--out`` and ``--segment-s`` options of ``emonet-predict``."""
    group = parser.add_argument_group("Ray (pip install 'emonet[ray]'; see docs/distributed.md)")
    group.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="run on Ray: a local Ray by default, or the cluster at ADDRESS ('auto', "
        "'ray://head:10001'); needs --out; resumes an interrupted run into the same --out",
    )
    group.add_argument(
        "--out",
        metavar="FOLDER",
        help="with --ray: the Parquet folder of the faces (one row per face, the columns "
        "of --csv) and _skipped/, the unreadable inputs",
    )
    group.add_argument(
        "--segment-s",
        type=float,
        default=60.0,
        metavar="S",
        help="with --ray: seconds of video per task, so that one video uses several "
        "workers (0: one task per video, with tracks over the whole video; default 60)",
    )


def wants_ray(args: argparse.Namespace) -> bool:
    """Whether the arguments ask for a Ray run (``--ray`` or ``--out``)."""
    return args.ray is not None or args.out is not None


def run_ray(args: argparse.Namespace) -> int:
    """The work of ``emonet-predict --ray``: check, run, report; the exit status."""
    address = args.ray
    if address is not None and not _ADDRESS.match(address) and os.path.exists(address):
        # `--ray photos/`: the folder is an input, not the address of a cluster
        args.paths = [address, *args.paths]
        address = "local"
    if address is None:
        raise ValueError("--out is for --ray runs: add --ray (or use --csv FILE)")
    if not args.out:
        raise ValueError("--ray needs --out FOLDER: the Parquet folder of the results")
    if not args.paths:
        raise ValueError("--ray needs at least one PATH: photos, videos, folders or patterns")
    given = [flag for name, flag in _NOT_WITH_RAY.items() if getattr(args, name, None)]
    if given:
        raise ValueError(
            f"{given[0]} does not go with --ray: its results are the Parquet folder --out "
            "(emonet.distributed.read_output reads it)"
        )
    if args.segment_s < 0:
        raise ValueError(f"--segment-s must be 0 or more, got {args.segment_s}")
    from emonet.distributed import RAY_MISSING, predict

    try:
        import ray  # noqa: F401
    except ImportError:
        raise ValueError(RAY_MISSING) from None
    from tqdm import tqdm

    bars: list = []  # made when the work starts: no bar for a run refused or done

    def progress(done: int, total: int | None) -> None:
        if not bars:
            bars.append(tqdm(total=total, unit="task", disable=args.quiet, file=sys.stderr))
        bars[0].update(done - bars[0].n)

    try:
        summary = predict(
            args.paths,
            args.out,
            preset=args.preset or "default",
            address=None if address == "local" else address,
            every=args.every,
            segment_s=args.segment_s,
            overwrite=args.overwrite,
            progress=progress,
            detector=args.detector,
            upsample=args.upsample,
            min_score=args.min_score,
            tta=args.tta,
            batch_size=args.batch_size,
        )
    finally:
        for bar in bars:
            bar.close()
    for source, reason in summary.skipped:
        print(
            f"emonet-predict: warning: skipped {printable_path(source)}: {reason}",
            file=sys.stderr,
        )
    print(
        f"{summary.inputs} files"
        + (f" ({summary.done_before} done before)" if summary.done_before else "")
        + f", {summary.faces} faces"
        + (f", {len(summary.skipped)} skipped" if summary.skipped else "")
        + f"; wrote {printable_path(summary.output)}",
        file=sys.stderr,
    )
    return 0
