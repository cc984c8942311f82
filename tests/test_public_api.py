"""Every public name can be imported, and every public name is mentioned by some test.

"Mentioned" is a text search of the files under ``tests/`` (this one left out): crude,
but a public name that no test even names is certainly untested. The names untested
today are listed in ``KNOWN_UNTESTED``; a new public name without a test fails here.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

PACKAGES = (
    "emonet",
    "emonet.data",
    "emonet.features",
    "emonet.predictions",
    "emonet.ensemble",
    "emonet.models",
    "emonet.recognize",
    "emonet.reproduce",
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


def _test_sources() -> str:
    return "\n".join(
        path.read_text(encoding="utf-8")
        for path in sorted(TESTS.rglob("*.py"))
        if path != Path(__file__).resolve()
    )


def _untested() -> set[str]:
    sources = _test_sources()
    return {
        f"{package}.{name}"
        for package, name in _public_names()
        # whole words only: `predict` is not mentioned by `predict_proba`
        if not re.search(rf"(?<!\w){re.escape(name)}(?!\w)", sources)
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


def test_every_new_public_name_is_mentioned_by_a_test() -> None:
    new = sorted(_untested() - KNOWN_UNTESTED)
    assert not new, f"public names that no file under tests/ mentions: {new}"


def test_known_untested_names_are_still_untested() -> None:
    # a name that got a test, or left the API, must leave KNOWN_UNTESTED
    stale = sorted(KNOWN_UNTESTED - _untested())
    assert not stale, f"take these off KNOWN_UNTESTED: {stale}"
