"""Every public name can be imported, and every public name is used by some test.

"Used" is read from the tests' syntax trees, not their text: a test file uses a public
name when it imports it (``from emonet.features import detect_faces``) or reaches it
through an imported emonet package (``emonet.Recognizer``, ``features.detect_faces``)
and then refers to it in its code. The names of the package are matched by identity, so
a name re-exported by ``emonet`` and by its subpackage counts once for both. The names
untested today are listed in ``KNOWN_UNTESTED``; a new public name without a test fails.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGES = (
    "emonet",
    "emonet.data",
    "emonet.features",
    "emonet.predictions",
    "emonet.ensemble",
    "emonet.explain",
    "emonet.tracking",
    "emonet.models",
    "emonet.training",
    "emonet.recognize",
    "emonet.reproduce",
    "emonet.serve",
    "emonet.distributed",
)

TESTS = Path(__file__).resolve().parent

#: ``module.name`` of the public names that no test mentions yet. Shrink it: a name that
#: gets a test must leave this set (``test_known_untested_names_are_still_untested``).
KNOWN_UNTESTED: frozenset[str] = frozenset(
    {
        "emonet.data.LABEL_ALIASES",
        "emonet.data.Skipped",
        "emonet.data.decode_record",
        "emonet.features.ExtractionReport",
    }
)


def _public_names() -> list[tuple[str, str]]:
    return [
        (package, name)
        for package in PACKAGES
        for name in importlib.import_module(package).__all__
    ]


def _used_in(tree: ast.Module) -> set[int]:
    """Identities of the emonet objects a test file imports or reaches, and uses."""
    modules: dict[str, str] = {}  # local name -> emonet package
    imported: dict[str, object] = {}  # local name -> object imported from a package
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "emonet":
                    modules[alias.asname or alias.name.split(".")[0]] = (
                        alias.name if alias.asname else "emonet"
                    )
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("emonet"):
            source = importlib.import_module(node.module)
            for alias in node.names:
                value = getattr(source, alias.name, None)
                if value is None:
                    continue
                if isinstance(value, type(importlib)):  # a subpackage: `from emonet import models`
                    modules[alias.asname or alias.name] = value.__name__
                else:
                    imported[alias.asname or alias.name] = value
    used: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in imported:
            used.add(id(imported[node.id]))
        elif isinstance(node, ast.Attribute):
            path, value = [node.attr], node.value
            while isinstance(value, ast.Attribute):
                path.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in modules:
                obj: object = importlib.import_module(modules[value.id])
                for part in reversed(path):
                    obj = getattr(obj, part, None)
                    if obj is None:
                        break
                else:
                    used.add(id(obj))
    return used


def _untested() -> set[str]:
    used: set[int] = set()
    for path in sorted(TESTS.rglob("*.py")):
        if path != Path(__file__).resolve():
            used |= _used_in(ast.parse(path.read_text(encoding="utf-8")))
    return {
        f"{package}.{name}"
        for package, name in _public_names()
        if id(getattr(importlib.import_module(package), name)) not in used
    }


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_is_importable(package: str) -> None:
    module = importlib.import_module(package)
    names = module.__all__
    assert len(set(names)) == len(names), "a name is listed twice in __all__"
    missing = [name for name in names if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ lists names it does not have: {missing}"
    for name in names:
        namespace: dict[str, object] = {}
        exec(f"from {package} import {name}", namespace)  # what a user writes
        assert namespace[name] is getattr(module, name)


def test_every_new_public_name_is_used_by_a_test() -> None:
    new = sorted(_untested() - KNOWN_UNTESTED)
    assert not new, f"public names that no file under tests/ imports and uses: {new}"


def test_known_untested_names_are_still_untested() -> None:
    # a name that got a test, or left the API, must leave KNOWN_UNTESTED
    stale = sorted(KNOWN_UNTESTED - _untested())
    assert not stale, f"take these off KNOWN_UNTESTED: {stale}"
