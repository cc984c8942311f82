"""The bundled presets reach users: the built wheel carries them as package data."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_carries_the_bundled_presets(tmp_path):
    # build from a copy, so the checkout gets no build/ or egg-info of this test's
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "runs", "out", "build", "*.egg-info", "__pycache__", ".*cache"
        ),
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("emonet-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    presets = sorted(p.parent.name for p in (ROOT / "emonet" / "pretrained").glob("*/preset.json"))
    assert {"default", "fast"} <= set(presets)
    for preset in presets:
        folder = ROOT / "emonet" / "pretrained" / preset
        config = json.loads((folder / "preset.json").read_text())
        expected = ["preset.json", *config["members"]]
        expected += [config["ensemble"]] if config["ensemble"] else []
        for name in expected:
            assert f"emonet/pretrained/{preset}/{name}" in names
    assert "emonet/recognize/__init__.py" in names
    assert any(n.endswith("entry_points.txt") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    commands = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "emonet-predict" in commands and "emonet-distill" in commands


def test_the_version_is_the_installed_distribution_s():
    from importlib.metadata import version

    import emonet

    assert emonet.__version__ == version("emonet")
    assert re.fullmatch(r"\d+\.\d+\.\d+", emonet.__version__)
