"""The house keeps its shape: rooms with one job, imports that only go down, the tui's one door."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import ROOT

MAX_LINES = 350
MAX_ROOT_MODULES = 8


def modules(package: str) -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every module of a top-level package."""
    base = ROOT / package
    for path in sorted(base.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported(path: Path, name: str, *, type_checking: bool = True) -> set[str]:
    """Every engine/tui module this one imports, function-level imports included, and the
    TYPE_CHECKING blocks' unless type_checking is False."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def walk(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node) and not type_checking:
            for child in node.orelse:
                walk(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from engine.db import migrate` imports the module engine.db.migrate.
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            walk(child)

    walk(ast.parse(path.read_text(encoding="utf-8")))
    return {m for m in found if m.split(".")[0] in ("engine", "tui")}


def graph(package: str, *, type_checking: bool = True) -> dict[str, set[str]]:
    known = dict(modules(package))
    return {
        name: {
            m for m in imported(path, name, type_checking=type_checking) if m in known and m != name
        }
        for name, path in known.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one node (Tarjan), as sorted lists."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def room(module: str) -> str:
    """engine.jobs.runtime -> engine.jobs; engine.client -> engine.client (a root module)."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_module_imports_its_way_back_to_itself() -> None:
    """In the engine type-only imports count too; the tui's screens may name the App
    under TYPE_CHECKING (Textual's screens are typed by the app that pushes them)."""
    for package, type_checking in (("engine", True), ("tui", False)):
        edges = graph(package, type_checking=type_checking)
        # A package's __init__ re-exporting its own modules is not a dependency of theirs.
        for name in edges:
            edges[name] = {m for m in edges[name] if not name.startswith(m + ".")}
        assert cycles(edges) == [], f"import cycles in {package}/"


def test_rooms_depend_on_lower_rooms_only() -> None:
    """A lower room never knows a higher one: the graph of engine's rooms has no cycle."""
    rooms: dict[str, set[str]] = {}
    for name, targets in graph("engine").items():
        rooms.setdefault(room(name), set()).update(
            room(t) for t in targets if room(t) != room(name)
        )
    # The package root re-exports the public API; what imports `engine` itself is none.
    rooms.pop("engine", None)
    for targets in rooms.values():
        targets.discard("engine")
    assert cycles(rooms) == []


def test_the_tui_uses_the_engine_through_its_admin_door_only() -> None:
    stray = {
        f"{name}: {target}"
        for name, path in modules("tui")
        for target in imported(path, name)
        if target.startswith("engine") and not target.startswith("engine.admin")
    }
    assert stray == set()


def test_no_engine_module_imports_the_tui() -> None:
    assert {
        name
        for name, path in modules("engine")
        if any(t.startswith("tui") for t in imported(path, name))
    } == set()


def test_modules_stay_short() -> None:
    long = {
        name: n
        for package in ("engine", "tui")
        for name, path in modules(package)
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_engine_root_holds_the_public_api_only() -> None:
    root = sorted(p.name for p in (ROOT / "engine").glob("*.py"))
    assert len(root) <= MAX_ROOT_MODULES, root


def test_every_package_says_its_one_job() -> None:
    for package in ("engine", "tui"):
        for init in (ROOT / package).rglob("__init__.py"):
            if "schema" in init.parts:
                continue
            doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
            assert doc, f"{init.relative_to(ROOT)} has no docstring"


def test_importing_the_engine_loads_no_ui_library() -> None:
    probe = "import sys, engine, engine.admin; print(sorted({'textual', 'humanize', 'rich'} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "[]"


def test_the_dashboard_has_one_central_stylesheet() -> None:
    assert [p.name for p in (ROOT / "tui").rglob("*.tcss")] == ["pqw.tcss"]


def test_no_code_waits_with_asyncio_wait_for() -> None:
    """On Python 3.11, asyncio.wait_for drops a cancel that lands as the awaited call
    finishes: a loop stopped by cancellation then runs on (the elector did, and a
    client's stop waited for it forever). asyncio.timeout keeps the cancel."""
    users = []
    for package in ("engine", "tui"):
        for name, path in modules(package):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr == "wait_for"
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "asyncio"
                ):
                    users.append(f"{name}:{node.lineno}")
    assert not users, f"use asyncio.timeout instead of asyncio.wait_for: {users}"
