"""Atomic file writes: readers see the old file or the complete new one, never a part.

The one implementation every stage uses (features store, prediction files, run folders,
ensembles, reports, bundled presets). It sits below every stage and imports nothing of
emonet.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def _temporary_name(path: Path, suffix: str = ".tmp") -> Path:
    # hidden, unique and in the same folder, so os.replace stays on one file system
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}{suffix}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` if the block succeeds.

    For writers that insist on opening the file themselves (Keras, h5py, matplotlib).
    ``suffix`` is the temporary name's ending, for writers that check it (Keras wants
    ``.keras`` or ``.weights.h5``). The temporary file is removed if the block raises.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from emonet._io import atomic_path
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_path(folder / "a.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> (folder / "a.txt").read_text(), sorted(p.name for p in folder.iterdir())
    ('done', ['a.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_name(path, suffix)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``, flushed, synced and moved onto it on success.

    ``mode`` is ``"w"`` (UTF-8 text, newlines as written) or ``"wb"``. An error names
    ``path``, not the temporary file.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_name(path)
    # os.open with 0o666 lets the umask decide the permissions, as open() would
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror}") from exc
    try:
        text = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **text) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        if exc.filename is None and exc.errno is not None:
            # disk full while writing: name the file the caller asked for
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    with atomic_open(path, "w") as stream:
        stream.write(text)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_open(path, "wb") as stream:
        stream.write(data)
    return Path(path)
