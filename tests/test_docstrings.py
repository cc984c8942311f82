"""The numpydoc Examples of the public objects run, and print what they show.

Each docstring's examples run as one doctest, in a temporary working directory, with
``ELLIPSIS`` and ``NORMALIZE_WHITESPACE``. An example that needs files that do not exist
is marked ``# doctest: +SKIP`` where it is written.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
from pathlib import Path
from types import ModuleType

import pytest

#: Modules whose public objects (``__all__``, or the public names they define) are run.
MODULES = (
    "emonet",
    "emonet._io",
    "emonet.cli._common",
    "emonet.data",
    "emonet.features",
    "emonet.predictions",
    "emonet.ensemble",
    "emonet.models",
    "emonet.training",
    "emonet.tracking",
    "emonet.explain",
    "emonet.recognize",
    "emonet.reproduce",
    "emonet.serve",
    "emonet.distributed",
)

#: Examples known to fail, with the reason; each is marked xfail. Not strict: the code
#: they document is being finished elsewhere; take an entry off once its example passes.
KNOWN_FAILURES: dict[str, str] = {}

OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _public_objects(module: ModuleType) -> list[object]:
    names = getattr(module, "__all__", None)
    if names is None:  # a private module: the public names it defines itself
        names = [
            name
            for name, value in vars(module).items()
            if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
        ]
    return [getattr(module, name) for name in names]


def _doctests() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    found: dict[tuple[str | None, int | None, str], doctest.DocTest] = {}

    def add(tests: list[doctest.DocTest]) -> None:
        for test in tests:
            if not test.examples:  # a docstring without an Examples section
                continue
            # a re-exported object is found once per package that exports it
            found.setdefault((test.filename, test.lineno, test.docstring or ""), test)

    for module_name in MODULES:
        module = importlib.import_module(module_name)
        add(doctest.DocTestFinder(recurse=False, exclude_empty=True).find(module, module_name))
        for value in _public_objects(module):
            # unwrap: a contextmanager's wrapper is defined in contextlib, and doctest
            # only searches objects defined in the module it is given
            value = inspect.unwrap(value) if callable(value) else value
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue  # constants: their docstring is their type's
            home = inspect.getmodule(value)
            add(finder.find(value, f"{home.__name__}.{value.__qualname__}", module=home))
    return sorted(found.values(), key=lambda test: test.name)


DOCTESTS = _doctests()


def _param(test: doctest.DocTest):
    marks = []
    if test.name in KNOWN_FAILURES:
        marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[test.name], strict=False))
    return pytest.param(test, id=test.name, marks=marks)


def test_every_known_failure_is_a_found_example() -> None:
    names = {test.name for test in DOCTESTS}
    assert set(KNOWN_FAILURES) <= names


def test_examples_are_found() -> None:
    names = {test.name for test in DOCTESTS}
    # one example of each kind of object: a class, a method, a function, a context manager
    for name in (
        "emonet.ensemble._weighted.WeightedEnsemble",
        "emonet.ensemble._weighted.WeightedEnsemble.save",
        "emonet.predictions._files.load_predictions",
        "emonet._io.atomic_path",
    ):
        assert name in names


@pytest.mark.parametrize("test", [_param(test) for test in DOCTESTS])
def test_docstring_examples(
    test: doctest.DocTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    test.globs = dict(test.globs)  # a fresh namespace on every run
    output: list[str] = []
    runner = doctest.DocTestRunner(optionflags=OPTIONS, verbose=False)
    result = runner.run(test, out=output.append, clear_globs=True)
    assert result.failed == 0, "".join(output)
