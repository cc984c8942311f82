"""Ray, an optional dependency: imported on demand, started quietly, or a clear message.

``emonet.distributed`` imports without Ray; :func:`require_ray` is called by the work
itself, and names the extra to install when Ray (or pyarrow) is missing.
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

from emonet._tensorflow import quiet_stderr

__all__ = ["RAY_MISSING", "connect", "require_ray"]

#: The message when Ray is not installed.
RAY_MISSING = (
    "emonet.distributed needs Ray Data and pyarrow, which are not installed: "
    "pip install 'emonet[ray]'"
)

# Ray's loggers, quiet but for errors and warnings of ours
_QUIET_LOGGERS = ("ray", "ray.data", "ray._private", "ray.util", "ray.tune", "filelock")


def require_ray() -> Any:
    """Import and return :mod:`ray` (with Ray Data and pyarrow), or raise the install hint.

    Raises
    ------
    ImportError
        If Ray, Ray Data or pyarrow cannot be imported: :data:`RAY_MISSING`.
    """
    try:
        import pyarrow  # noqa: F401
        import ray
        import ray.data  # noqa: F401
    except ImportError as error:
        raise ImportError(f"{RAY_MISSING} ({error})") from None
    return ray


def connect(address: str | None = None, *, num_cpus: int | None = None) -> bool:
    """Use the running Ray session, or join the cluster at ``address``, or start a local one.

    Returns True when this call started (or joined) Ray, so that the caller shuts it down.
    A local Ray keeps its temporary files under the system's temporary folder, has no
    dashboard, and does not copy its workers' logs to this process.
    """
    ray = require_ray()
    quiet_ray_logs()
    # Ray's C++ core logs to stderr (e.g. that Ray Data's actors keep their arguments in
    # the object store); failures reach Python as exceptions anyway
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.WARNING,
        "configure_logging": False,
    }
    # a cluster's workers run this package from their own installation: nothing to ship
    if address in (None, "", "local"):
        options["num_cpus"] = num_cpus
        options["_temp_dir"] = os.path.join(tempfile.gettempdir(), "ray")
    else:
        options["address"] = address
    with quiet_stderr():  # Ray's start-up lines (shown if it fails)
        ray.init(**options)
    _quiet_ray_data()
    return True


def quiet_ray_logs() -> None:
    """Ray's Python loggers to warnings only; its progress bars off."""
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def _quiet_ray_data() -> None:
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    for name in ("print_on_execution_start", "enable_operator_progress_bars"):
        if hasattr(context, name):
            setattr(context, name, False)
