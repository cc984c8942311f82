"""Keras and its backend for the commands that need them: imported late, and quietly.

The backend is Keras' (``KERAS_BACKEND``, TensorFlow by default); JAX and PyTorch start
quietly, TensorFlow does not:

TensorFlow takes seconds to import and writes a dozen log lines on the way (absl's
"before InitializeLog" warning, oneDNN, CUDA probing), written by C++ straight to the
process's stderr, before and regardless of Python's logging. ``emonet-train`` and
``emonet-evaluate`` check their arguments first, then call :func:`import_tensorflow`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

#: TensorFlow's own C++ log level from then on: 2 keeps errors, drops info and warnings.
_LOG_LEVEL = "2"


def import_tensorflow(*, lite_only: bool = False) -> None:
    """Import Keras and its backend, and initialise the devices, without their log lines.

    Call it before the first import of :mod:`emonet.models`, :mod:`emonet.training`,
    :mod:`emonet.recognize` or Keras (which import TensorFlow, loudly, on its default
    backend): the ``emonet-*`` commands call it once their arguments are checked, and a
    script may do the same.
    TensorFlow is imported only when it is Keras' backend (``KERAS_BACKEND``); once it,
    or Keras on another backend, is imported, the call does nothing.

    What is written to stderr meanwhile is dropped, or shown if the import fails.
    TensorFlow's later C++ log keeps its errors only (``TF_CPP_MIN_LOG_LEVEL=2``, unless
    set otherwise); ``TF_CPP_MIN_LOG_LEVEL=0`` shows everything, the start-up lines too.

    Parameters
    ----------
    lite_only : bool, default=False
        Only int8 LiteRT networks will run (:func:`emonet.recognize.lite_only`), no
        Keras network is built or called: unless ``KERAS_BACKEND`` names a backend,
        Keras is imported on NumPy, without TensorFlow, in about half the time.

    Raises
    ------
    ImportError
        If Keras or its backend cannot be imported (with what they wrote to stderr).

    Examples
    --------
    >>> import emonet
    >>> emonet.import_tensorflow()  # seconds the first time, and quiet
    >>> from emonet.models import TTA_MODES  # Keras is loaded: no start-up log now
    >>> TTA_MODES
    ('none', 'flip', 'multiscale')
    """
    if lite_only and "keras" not in sys.modules and "KERAS_BACKEND" not in os.environ:
        os.environ["KERAS_BACKEND"] = "numpy"  # LiteRT runs on its own interpreter
    if "tensorflow" in sys.modules or (
        "keras" in sys.modules and sys.modules["keras"].backend.backend() != "tensorflow"
    ):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", _LOG_LEVEL)
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0":
        _import()
        return
    with quiet_stderr():
        _import()


def _import() -> None:
    import keras

    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    # the first device query probes CUDA, which logs too
    tf.config.list_logical_devices()


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Drop what the block writes to file descriptor 2; show it if the block fails."""
    sys.stderr.flush()
    with tempfile.TemporaryFile() as captured:
        try:
            saved = os.dup(2)
        except OSError:  # no stderr to redirect
            yield
            return
        os.dup2(captured.fileno(), 2)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                captured.seek(0)
                with contextlib.suppress(OSError, ValueError):
                    sys.stderr.write(captured.read().decode("utf-8", "replace"))
                    sys.stderr.flush()
