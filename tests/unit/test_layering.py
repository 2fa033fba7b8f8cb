"""The code's layout rules, checked from the source: the core never imports the server, each
layer imports only the layers below it, no import cycle between modules, modules stay small.

Imports are read with `ast` (every import, at any depth, including lazy ones inside functions
and TYPE_CHECKING blocks): a cycle hidden behind a lazy import is still a cycle in the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "switchyard"
MAX_LINES = 400

# Modules directly under switchyard/ that every layer may use; they import none of the layers.
SHARED = {"errors", "ids", "logs", "principal"}
# What each layer may import of ours, besides itself and the shared modules.
ALLOWED = {
    "config": set(),
    "llm": {"config"},
    # The typed events of a run carry the LLM interface's values (usage, tool calls).
    "events": {"llm"},
    "tools": {"config", "llm", "events"},  # a tool describes itself with the LLM's ToolSpec
    "store": {"config"},
    "bus": {"events", "llm"},
    "routing": {"config", "llm"},
    # Metrics and traces: the runtime and the server report into it.
    "observability": {"config"},
    "runtime": {"config", "llm", "events", "tools", "store", "bus", "observability"},
    "agents": set(),
    # Webhooks and schedules: services over the store that start runs through the runtime.
    "automation": {"config", "llm", "events", "tools", "store", "bus", "runtime"},
    "server": {"config", "llm", "events", "tools", "store", "bus", "routing", "runtime", "automation",
               "observability"},
    "cli": {"config", "llm", "events", "tools", "store", "bus", "routing", "runtime", "server", "automation",
            "observability"},
}
WEB_FRAMEWORKS = ("fastapi", "starlette", "uvicorn")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module this one imports (ours resolved to a module name; others by their top name)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "switchyard" or len(parts) < 2:
        return None
    return parts[1]


def test_the_core_never_imports_the_web_framework_or_the_server() -> None:
    offenders = []
    for module, imports in _graph().items():
        layer = _layer(module)
        if layer in ("server", "cli"):
            continue
        for imported in imports:
            top = imported.split(".")[0]
            if top in WEB_FRAMEWORKS or _layer(imported) in ("server", "cli"):
                offenders.append(f"{module} imports {imported}")
    assert offenders == []


def test_each_layer_imports_only_the_layers_below_it() -> None:
    offenders = []
    for module, imports in _graph().items():
        layer = _layer(module)
        if layer is None:
            continue
        for imported in imports:
            other = _layer(imported)
            if other is None or other == layer:
                continue
            if layer in SHARED:
                if other not in SHARED:
                    offenders.append(f"{module} (shared) imports {imported}")
                continue
            if other in SHARED:
                continue
            if other not in ALLOWED.get(layer, set()):
                offenders.append(f"{module} ({layer}) imports {imported} ({other})")
    assert offenders == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules() -> None:
    graph = _graph()
    # A package's __init__ importing its own submodules is a re-export, not a dependency cycle.
    for module, imports in graph.items():
        graph[module] = {i for i in imports if not (module.startswith(i + ".") and i in graph)}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert {name: lines for name, lines in sizes.items() if lines > MAX_LINES} == {}


def test_a_turn_never_sees_the_agent() -> None:
    """A turn gets what it needs passed in (runtime.turn.TurnContext), so it can be driven
    without an Agent, and the agent's parts do not reach back into it."""
    graph = _graph()
    for part in ("switchyard.runtime.turn", "switchyard.runtime.toolwiring", "switchyard.runtime.runs"):
        assert "switchyard.runtime.agent" not in graph[part], part
