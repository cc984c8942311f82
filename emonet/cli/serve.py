"""``emonet-serve``: the HTTP API and the page of emonet, on uvicorn."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from typing import Any

from emonet._tensorflow import import_tensorflow
from emonet.cli._common import (
    CommandParser,
    add_model_options,
    add_tta_options,
    check_model_options,
    run,
)
from emonet.features import DETECTORS

_MB = 1024 * 1024
#: The names a service bound to loopback answers to by default.
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="emonet-serve",
        description=(
            "Serve emonet over HTTP: POST /v1/predict (images), POST /v1/predict/video, "
            "the /v1/stream WebSocket (webcam frames), /healthz, /readyz, /v1/info, "
            "/v1/presets, the API description at /docs, and a page to try it at /. "
            "Binds 127.0.0.1 unless --host says otherwise."
        ),
    )
    where = parser.add_argument_group("where")
    where.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 for all)",
    )
    where.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    safety = parser.add_argument_group("safety")
    safety.add_argument(
        "--api-key",
        default=None,
        help="ask every /v1 route for this key (X-API-Key header); default the "
        "EMONET_API_KEY environment variable, else no key",
    )
    safety.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="an origin (https://app.example.org) whose pages may call the API; repeat for "
        "more; none by default",
    )
    safety.add_argument(
        "--allowed-host",
        action="append",
        default=None,
        metavar="NAME",
        help="a name the service is reached by (emonet.example.org, *.example.org; * for "
        "any), others answered 400; repeat for more; default the loopback names "
        "(localhost, 127.0.0.1, [::1]) when --host is loopback, else any",
    )
    safety.add_argument(
        "--max-upload-mb", type=float, default=10.0, help="largest image (default 10 MB)"
    )
    safety.add_argument(
        "--max-pixels", type=int, default=40_000_000, help="most pixels of an image"
    )
    safety.add_argument("--max-images", type=int, default=8, help="most images a request")
    safety.add_argument(
        "--max-video-mb", type=float, default=50.0, help="largest video (default 50 MB)"
    )
    safety.add_argument(
        "--max-video-seconds", type=float, default=60.0, help="longest video (default 60 s)"
    )
    safety.add_argument(
        "--max-pending",
        type=int,
        default=32,
        help="requests in the works at once; more are answered 503 (default 32)",
    )
    how = parser.add_argument_group("recognition")
    add_model_options(how)
    how.add_argument("--detector", choices=DETECTORS, default="hog")
    add_tta_options(how, default=None, who="read each face")
    how.add_argument(
        "--batch-wait-ms",
        type=float,
        default=5.0,
        help="how long faces wait for other requests' to share a network batch (default 5)",
    )
    how.add_argument(
        "--detect-threads", type=int, default=2, help="threads that find faces (default 2)"
    )
    how.add_argument(
        "--detect-processes",
        type=int,
        default=None,
        help="worker processes that decode photos and find their faces, N photos at once "
        "(default: 2 on a machine of 2 or more cores, else 0; 0: the threads, one photo at "
        "a time)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error")
    )
    return parser


def app_settings(
    args: argparse.Namespace, environ: Any = None
) -> tuple[dict[str, Any], list[str]]:
    """The keyword arguments of :func:`emonet.serve.create_app` (but the recognizer) from
    the parsed arguments, and the warnings to print.

    The API key is ``--api-key``, else the environment variable ``EMONET_API_KEY``;
    binding another address than loopback without a key is warned about. The allowed
    ``Host`` names are ``--allowed-host``, else the loopback names when bound to loopback
    (any otherwise).

    Raises
    ------
    ValueError
        If an argument is out of range (a port, a limit), naming it.
    """
    from emonet.recognize import preset_path
    from emonet.serve import API_KEY_ENV, Limits

    environ = os.environ if environ is None else environ
    check_model_options(args)
    if args.models is None:
        preset_path(args.preset or "default")  # an unknown preset fails now, in one line
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be in 0-65535, got {args.port}")
    processes = args.detect_processes
    if processes is None:
        # two photos searched at once: dlib's detector holds one core per process
        processes = 2 if (os.cpu_count() or 1) >= 2 else 0
    if args.detect_threads < 1 or processes < 0:
        raise ValueError("--detect-threads must be >= 1 and --detect-processes >= 0")
    limits = Limits(
        max_upload_bytes=int(args.max_upload_mb * _MB),
        max_pixels=args.max_pixels,
        max_images=args.max_images,
        max_video_bytes=int(args.max_video_mb * _MB),
        max_video_seconds=args.max_video_seconds,
        max_pending=args.max_pending,
        batch_wait_ms=args.batch_wait_ms,
    )
    api_key = args.api_key or environ.get(API_KEY_ENV) or None
    warnings = []
    if not api_key and not _is_loopback(args.host):
        warnings.append(
            f"--host {args.host} without an API key: anyone who reaches this port may use "
            f"it (set --api-key or {API_KEY_ENV})"
        )
    allowed_hosts = args.allowed_host
    if allowed_hosts is None and _is_loopback(args.host):
        # a foreign page that points its name at 127.0.0.1 (DNS rebinding) is refused
        allowed_hosts = sorted({*_LOOPBACK_NAMES, _url_host(args.host).lower()})
    settings = {
        "api_key": api_key,
        "cors_origins": list(args.cors_origin),
        "allowed_hosts": allowed_hosts,
        "limits": limits,
        "detect_threads": args.detect_threads,
        "detect_processes": processes,
    }
    return settings, warnings


def _main(args: argparse.Namespace) -> int:
    settings, warnings = app_settings(args)
    for warning in warnings:
        print(f"emonet-serve: warning: {warning}", file=sys.stderr)
    import uvicorn

    from emonet.recognize import lite_only

    # int8 networks alone (the bundled presets) need no TensorFlow: a quicker start
    import_tensorflow(lite_only=lite_only(args.preset, args.models))

    def load() -> Any:
        from emonet.recognize import Recognizer

        return Recognizer(
            args.preset,
            models=args.models,
            ensemble=args.ensemble,
            detector=args.detector,
            tta=args.tta,
        )

    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    from emonet.serve import create_app

    app = create_app(load, **settings)
    print(
        f"emonet-serve: http://{_url_host(args.host)}:{args.port}/ (the page), "
        f"/docs (the API); models loading, /readyz says when they are in",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        access_log=False,  # emonet.serve.access writes one line per request instead
        log_level=args.log_level,
    )
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``emonet-serve``."""
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
