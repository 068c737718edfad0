"""The package's import graph: layers point one way and there are no cycles.

Every import is read from the source (module level and deferred ones inside
functions alike), so a cycle cannot hide behind a late import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "cryolike_convert"
SOURCE = Path(__file__).resolve().parents[1] / "src" / PACKAGE

#: Layer of each part of the package, lowest first; a module may import only its
#: own part or parts of a lower layer.
LAYERS: dict[str, int] = {
    "version": 0,
    "errors": 0,
    "formats": 1,
    "transform": 2,
    "options": 3,
    "image_descriptor": 3,
    "metadata": 3,
    "readers": 4,
    "output": 5,
    "execution": 6,
    "compat": 7,
    "review": 7,
    "testing": 7,
    "example": 8,
    "file_conversions": 8,
    "cli": 9,
    "__main__": 10,
    "": 10,  # the package's own __init__: the public re-exports
}
#: Parts that may be imported from the same layer (the shared core types).
CORE = {"options", "image_descriptor", "metadata"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(SOURCE.rglob("*.py"))}


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """Our modules that ``path`` imports, resolved to modules (not attributes)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t == PACKAGE or t.startswith(PACKAGE + "."))
    return found


def graph() -> dict[str, set[str]]:
    modules = all_modules()
    known = set(modules)
    return {
        name: imported_modules(name, path, known) - {name}
        for name, path in modules.items()
    }


def part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_part_has_a_layer() -> None:
    assert {part(name) for name in all_modules()} <= set(LAYERS)


def test_imports_point_down_the_layers() -> None:
    upward = []
    for importer, imported in graph().items():
        for target in imported:
            source_part, target_part = part(importer), part(target)
            if source_part == target_part:
                continue
            lower = LAYERS[target_part] < LAYERS[source_part]
            shared_core = (
                LAYERS[target_part] == LAYERS[source_part] and target_part in CORE
            )
            if not (lower or shared_core):
                upward.append(f"{importer} -> {target}")
    assert upward == []


def test_formats_import_nothing_of_ours() -> None:
    leaks = [
        f"{importer} -> {target}"
        for importer, imported in graph().items()
        if part(importer) == "formats"
        for target in imported
        if part(target) != "formats"
    ]
    assert leaks == []


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the directed graph as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycles() -> None:
    assert find_cycle(graph()) is None


@pytest.mark.parametrize(
    ("edges", "cyclic"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
        ({"a": {"a2"}, "a2": set(), "b": {"b"}}, True),
    ],
)
def test_cycle_finder_finds_cycles(edges: dict[str, set[str]], cyclic: bool) -> None:
    assert (find_cycle(edges) is not None) is cyclic


def test_deferred_imports_are_seen(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "def f():\n    from cryolike_convert.cli import app\n    return app\n"
    )
    known = {"cryolike_convert.cli", "cryolike_convert.cli.app"}
    assert imported_modules("cryolike_convert.m", source, known) == {
        "cryolike_convert.cli.app"
    }
