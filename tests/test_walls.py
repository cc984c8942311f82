"""The walls of docs/architecture.md: what each stage may import.

Stages, bottom to top::

    emonet._constants, _io, _image, _plotting, ... (the private top-level modules)
    -> data -> features -> predictions -> models -> ensemble -> recognize -> reproduce
    -> demo -> cli

A module may import its own stage freely, the bottom modules, and the public names of
lower stages: never a higher stage, never another stage's private module or name. Every
``import`` counts, inside functions too: a wall a lazy import walks through is no wall.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "emonet"
STAGES = (
    "data",
    "features",
    "predictions",
    "models",
    "ensemble",
    "recognize",
    "reproduce",
    "demo",
    "cli",
)
RANK = {stage: rank for rank, stage in enumerate(STAGES, start=1)}
BOTTOM = "bottom"  # rank 0


def _lazy_root_names() -> dict[str, str]:
    """Names that ``emonet/__init__.py`` imports on first use: ``{name: module}``."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets)
            and isinstance(node.value, ast.Dict)
        ):
            return {
                ast.literal_eval(k): ast.literal_eval(v)
                for k, v in zip(node.value.keys, node.value.values, strict=True)
            }
    return {}


def _stage(parts: tuple[str, ...]) -> str:
    """Stage of a module ``emonet.<parts>``; the root package and ``_x`` modules are bottom."""
    if not parts or parts[0].startswith("_"):
        return BOTTOM
    return parts[0]


def _module_name(path: Path) -> tuple[str, ...]:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imports(tree: ast.AST, module: tuple[str, ...], is_package: bool):
    """``(line, imported module parts below emonet, imported names)`` of every import."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name.split(".")
                if name[0] == "emonet":
                    yield node.lineno, tuple(name[1:]), ()
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module if is_package else module[:-1]
                base = package[: len(package) - (node.level - 1)]
                target = (*base, *(node.module.split(".") if node.module else ()))
            elif node.module and node.module.split(".")[0] == "emonet":
                target = tuple(node.module.split(".")[1:])
            else:
                continue
            yield node.lineno, target, tuple(alias.name for alias in node.names)


def wall_violations(source: str, module: tuple[str, ...], is_package: bool = False) -> list[str]:
    """What a module of ``emonet.<module>`` imports across the walls, one line each."""
    own = _stage(module)
    lazy = _lazy_root_names()
    found = []
    for line, target, names in _imports(ast.parse(source), module, is_package):
        if not target:  # `from emonet import x`: a submodule, a lazy name or a constant
            targets = [
                (tuple(lazy[n].split(".")[1:]), ()) if n in lazy else ((n,), ())
                for n in names
                if n in lazy or (PACKAGE / n).is_dir() or (PACKAGE / f"{n}.py").is_file()
            ]
        else:
            targets = [(target, names)]
        for parts, imported in targets:
            stage = _stage(parts)
            if stage == BOTTOM or stage == own:
                continue
            where = f"line {line}: emonet.{'.'.join(parts)}"
            private = [n for n in imported if n.startswith("_") and not n.startswith("__")]
            if own == BOTTOM or RANK[stage] > RANK[own]:
                found.append(f"{where}: stage {own!r} imports the higher stage {stage!r}")
            elif any(p.startswith("_") for p in parts[1:]):
                found.append(f"{where}: a private module of stage {stage!r}")
            elif private:
                found.append(f"{where}: private name(s) {', '.join(private)} of stage {stage!r}")
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_module_imports_only_lower_stages_public_names(path):
    module = _module_name(path)
    assert wall_violations(path.read_text(), module, path.name == "__init__.py") == []


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("def f():\n    from emonet.features import crop_faces\n", ("data", "_load"), "higher"),
        ("import emonet.models\n", ("features", "_store"), "higher"),
        ("from emonet.data._records import iter_csv\n", ("features", "_x"), "private module"),
        ("from emonet.predictions import _atomic_open\n", ("ensemble", "_x"), "private name"),
        ("from ..features import crop_faces\n", ("data", "_load"), "higher"),
        ("from emonet import features\n", ("data", "_load"), "higher"),
        ("from emonet.data import DataError\n", ("_image",), "higher"),
    ],
)
def test_the_wall_check_catches_what_it_must(source, module, expected):
    (violation,) = wall_violations(source, module)
    assert expected in violation


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("from emonet.data import DataError, check_usages\n", ("features", "_store")),
        ("from emonet._image import read_grayscale\n", ("data", "_load")),
        ("from emonet._constants import LABELS\nfrom emonet import __version__\n", ("data", "x")),
        ("from emonet.features._faces import crop_faces\n", ("features", "_pipeline")),
        ("from emonet._io import atomic_open\n", ("_plotting",)),
    ],
)
def test_the_wall_check_lets_through_what_it_may(source, module):
    assert wall_violations(source, module) == []


@pytest.mark.parametrize("module", ["emonet.data", "emonet.features", "emonet.ensemble"])
def test_stage_does_not_import_tensorflow(module):
    code = f"import sys, {module}; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_data_does_not_import_features():
    code = "import sys, emonet.data; print('emonet.features' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
