"""The layering, checked on the source: no import cycle between Switchyard's modules (every
import statement counts, inside functions and under TYPE_CHECKING too), and the core never
imports the server or an HTTP framework."""

from __future__ import annotations

import ast
from pathlib import Path

import switchyard

PACKAGE = Path(switchyard.__file__).resolve().parent
CORE = ("config", "llm", "tools", "runtime", "store", "bus", "routing", "events", "ids", "errors")


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module name `path` imports ("from pkg import mod" counts as pkg.mod only)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            subs = {f"{node.module}.{alias.name}" for alias in node.names} & modules.keys()
            found.update(subs if len(subs) == len(node.names) else {node.module, *subs})
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {m for m in _imports(path, modules) if m in modules and m != name}
            for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_core_imports_neither_the_server_nor_an_http_framework():
    modules = _modules()
    offenders = {}
    for name, path in modules.items():
        if name == "switchyard" or name.split(".")[1] not in CORE:
            continue
        bad = sorted(m for m in _imports(path, modules)
                     if m.startswith(("switchyard.server", "fastapi", "starlette")))
        if bad:
            offenders[name] = bad
    assert offenders == {}


def test_a_turn_never_sees_the_agent():
    assert "switchyard.runtime.agent" not in _graph()["switchyard.runtime.turn"]
    assert "switchyard.runtime.agent" not in _graph()["switchyard.runtime.toolwiring"]
