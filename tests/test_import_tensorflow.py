"""emonet.import_tensorflow: Keras and its backend, imported quietly, for scripts."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emonet import import_tensorflow

ROOT = Path(__file__).resolve().parents[1]
#: What TensorFlow writes while it starts (absl, oneDNN, CUDA probing).
NOISE = ("absl", "oneDNN", "cuda", "cuInit", "I0000", "W0000", "E0000", "tensorflow/")
SCRIPT = """
import json, sys
import emonet
before = ["keras" in sys.modules, "tensorflow" in sys.modules]
emonet.import_tensorflow()
emonet.import_tensorflow()  # the second call does nothing
import keras
after = ["keras" in sys.modules, "tensorflow" in sys.modules]
print(json.dumps({"before": before, "after": after, "backend": keras.backend.backend()}))
"""


def _run(backend: str | None, script: str = SCRIPT) -> tuple[dict, str]:
    if backend is not None and importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    # as a user runs it: without a log level of TensorFlow's set by someone else
    env = {
        k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND")
    }
    if backend is not None:
        env["KERAS_BACKEND"] = backend
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


@pytest.mark.slow
def test_import_tensorflow_imports_keras_and_tensorflow_quietly():
    report, stderr = _run("tensorflow")
    assert report == {"before": [False, False], "after": [True, True], "backend": "tensorflow"}
    assert [line for line in stderr.splitlines() if any(m in line for m in NOISE)] == []


@pytest.mark.slow
def test_import_tensorflow_leaves_tensorflow_alone_on_another_backend():
    report, _ = _run("jax")
    assert report == {"before": [False, False], "after": [True, False], "backend": "jax"}


@pytest.mark.slow
@pytest.mark.parametrize("backend", [None, "tensorflow"])
def test_lite_only_imports_keras_on_numpy_unless_a_backend_is_named(backend):
    """int8 LiteRT networks need no backend: Keras on NumPy, no TensorFlow; a backend
    named by KERAS_BACKEND is still the one imported."""
    script = SCRIPT.replace("import_tensorflow()", "import_tensorflow(lite_only=True)")
    report, _ = _run(backend, script)
    after, expected = [True, bool(backend)], backend or "numpy"
    assert report == {"before": [False, False], "after": after, "backend": expected}


@pytest.mark.slow
def test_import_tensorflow_in_this_process():
    import_tensorflow()
    import keras

    assert "keras" in sys.modules
    if keras.backend.backend() == "tensorflow":
        assert "tensorflow" in sys.modules
    import_tensorflow()  # once imported: nothing to do
