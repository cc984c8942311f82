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


def _run(backend: str) -> tuple[dict, str]:
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    # as a user runs it: without a log level of TensorFlow's set by someone else
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["KERAS_BACKEND"] = backend
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
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
def test_import_tensorflow_in_this_process():
    import_tensorflow()
    import keras

    assert "keras" in sys.modules
    if keras.backend.backend() == "tensorflow":
        assert "tensorflow" in sys.modules
    import_tensorflow()  # once imported: nothing to do
