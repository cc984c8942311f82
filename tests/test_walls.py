"""The walls of docs/architecture.md: what each stage may import."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["emonet.data", "emonet.features", "emonet.ensemble"])
def test_stage_does_not_import_tensorflow(module):
    code = f"import sys, {module}; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_data_does_not_import_features():
    code = "import sys, emonet.data; print('emonet.features' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False"
