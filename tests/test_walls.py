"""The walls of docs/architecture.md: what each stage may import.

Stages, bottom to top::

    emonet._constants, _io, _image, _plotting, ... (the private top-level modules)
    -> data -> features -> predictions -> models -> training -> ensemble -> tracking
    -> explain -> recognize -> reproduce -> serve -> distributed -> demo -> cli

A module may import its own stage freely, the bottom modules, and the public names of
lower stages: never a higher stage, never another stage's private module or name. Every
``import`` counts, inside functions too: a wall a lazy import walks through is no wall.
And no module imports itself back through others: the import graph of emonet's modules
has no cycle, inside a stage either.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "emonet"
STAGES = (
    "data",
    "features",
    "predictions",
    "models",
    "training",
    "ensemble",
    "tracking",
    "explain",
    "recognize",
    "reproduce",
    "serve",
    "distributed",
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
        ("def f():\n    from emonet.training import train\n", ("models", "_x"), "higher"),
        ("import emonet.training\n", ("predictions", "_scores"), "higher"),
        ("from emonet.models._fusion import FACE_INPUT\n", ("training", "_x"), "private module"),
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
        ("from emonet.models import FACE_INPUT, build_model\n", ("training", "_data")),
        ("from emonet.features import mirror_batch\n", ("models", "_tta")),
        ("from emonet.training import train\n", ("reproduce", "_x")),
    ],
)
def test_the_wall_check_lets_through_what_it_may(source, module):
    assert wall_violations(source, module) == []


@pytest.mark.parametrize(
    "module", ["emonet.data", "emonet.features", "emonet.predictions", "emonet.ensemble"]
)
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


def test_models_and_the_recognizer_do_not_import_training():
    # a moved name says where it went without importing its new home
    code = (
        "import sys, emonet.models, emonet.recognize\n"
        "try:\n    emonet.models.train\nexcept AttributeError as error:\n    print(error)\n"
        "print('emonet.training' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == [
        "emonet.models.train moved to emonet.training.train (from emonet.training import train)",
        "False",
    ]


# --- import cycles --------------------------------------------------------------------


def _module_names() -> dict[tuple[str, ...], Path]:
    """Every module of the package, the root included: ``{parts below emonet: path}``."""
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def import_edges(
    source: str, module: tuple[str, ...], is_package: bool, modules: set[tuple[str, ...]]
) -> Iterator[tuple[int, tuple[str, ...]]]:
    """``(line, module)`` of each emonet module that ``module``'s code imports.

    ``from PACKAGE import name`` imports the package, and the submodule ``name`` when it
    is one; a name the root package imports lazily (``emonet.Recognizer``) imports its
    module. Only the module named counts, not the packages above it, which Python runs
    first: a package's own ``__init__`` runs before any of its modules either way.
    """
    lazy = _lazy_root_names()
    for line, target, names in _imports(ast.parse(source), module, is_package):
        found = [target]
        for name in names:
            if not target and name in lazy:
                found.append(tuple(lazy[name].split(".")[1:]))
            elif (*target, name) in modules:
                found.append((*target, name))
        for parts in found:
            if parts in modules and parts != module:
                yield line, parts


def import_cycles(graph: dict[tuple[str, ...], set[tuple[str, ...]]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted:
    every one holds a cycle of imports."""
    index: dict[tuple[str, ...], int] = {}
    low: dict[tuple[str, ...], int] = {}
    stack: list[tuple[str, ...]] = []
    on_stack: set[tuple[str, ...]] = set()
    cycles = []

    def visit(node: tuple[str, ...]) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(".".join(("emonet", *parts)) for parts in component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def import_graph() -> dict[tuple[str, ...], set[tuple[str, ...]]]:
    modules = _module_names()
    return {
        module: {
            parts
            for _, parts in import_edges(
                path.read_text(), module, path.name == "__init__.py", set(modules)
            )
        }
        for module, path in modules.items()
    }


def test_no_module_imports_itself_back():
    assert import_cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle_through_a_lazy_import():
    modules = {("models",), ("models", "_a"), ("models", "_b"), ("features",)}
    source_a = "from emonet.models._b import g\n"
    source_b = "def g():\n    from emonet.models import _a\n"
    graph = {
        ("models", "_a"): set(import_edges(source_a, ("models", "_a"), False, modules)),
        ("models", "_b"): set(import_edges(source_b, ("models", "_b"), False, modules)),
    }
    graph = {module: {parts for _, parts in edges} for module, edges in graph.items()}
    assert graph[("models", "_b")] == {("models",), ("models", "_a")}
    assert import_cycles(graph) == [["emonet.models._a", "emonet.models._b"]]
    # a package that imports its modules, and a module that imports the package back
    graph = {("models",): {("models", "_a")}, ("models", "_a"): {("models",), ("features",)}}
    assert import_cycles(graph) == [["emonet.models", "emonet.models._a"]]
    assert import_cycles({("models",): {("models", "_a")}, ("models", "_a"): set()}) == []
