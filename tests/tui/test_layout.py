"""The dashboard's rooms hold: one door into the engine, no import cycles, small modules."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

TUI = Path(__file__).resolve().parents[2] / "tui"
MAX_LINES = 350


def module_name(path: Path) -> str:
    parts = path.relative_to(TUI.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(TUI.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, *, type_checking: bool) -> Iterator[str]:
    """Every module `path` imports (with or without its TYPE_CHECKING blocks)."""

    def walk(node: ast.AST) -> Iterator[str]:
        if isinstance(node, ast.If) and _is_type_checking(node) and not type_checking:
            for child in node.orelse:
                yield from walk(child)
            return
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                # `from tui.data import pending` imports the module tui.data.pending.
                submodule = f"{node.module}.{alias.name}"
                yield submodule if submodule in MODULES else node.module
        for child in ast.iter_child_nodes(node):
            yield from walk(child)

    yield from walk(ast.parse(path.read_text(), str(path)))


def test_the_tui_reaches_the_engine_only_through_engine_admin() -> None:
    strays = {
        f"{name} imports {target}"
        for name, path in MODULES.items()
        for target in imports(path, type_checking=True)
        if target.split(".")[0] == "engine" and target != "engine.admin"
    }
    assert not strays, sorted(strays)


def test_no_import_cycle_outside_type_checking() -> None:
    graph = {
        name: {t for t in imports(path, type_checking=False) if t in MODULES and t != name}
        for name, path in MODULES.items()
    }
    cycles: list[list[str]] = []
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycles.append([*trail[trail.index(name) :], name])
            return
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    assert not cycles, [" → ".join(c) for c in cycles]


def test_no_module_is_over_the_line_limit() -> None:
    lines = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    long = {name: n for name, n in lines.items() if n > MAX_LINES}
    assert not long, long


def test_every_package_says_its_one_job() -> None:
    for name, path in MODULES.items():
        if path.name == "__init__.py":
            assert ast.get_docstring(ast.parse(path.read_text())), f"{name} has no docstring"


def test_one_central_stylesheet() -> None:
    assert [p.name for p in TUI.rglob("*.tcss")] == ["pqw.tcss"]
