"""The tool interface the agent loop calls, and in-process function tools.

A `Tool` has a name, a description, a JSON schema for its arguments, and an async `call`
that returns a `ToolResult`. A `ToolSet` is what the agent sees: every tool of every source
(function tools now, MCP servers in tools/mcp.py), looked up by name.
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable, Protocol, runtime_checkable

from switchyard.llm.base import ToolSpec


@dataclass
class ToolResult:
    """What a tool produced. `content` is a list of MCP-style parts ({type: text, text})."""

    content: list[dict[str, Any]] = field(default_factory=list)
    is_error: bool = False
    raw: Any = None

    @classmethod
    def text(cls, text: str, *, is_error: bool = False) -> "ToolResult":
        return cls(content=[{"type": "text", "text": text}], is_error=is_error)

    def as_text(self) -> str:
        out = []
        for part in self.content:
            if part.get("type") == "text":
                out.append(str(part.get("text", "")))
            else:
                out.append(f"[{part.get('type')}]")
        return "\n".join(out)


@runtime_checkable
class Tool(Protocol):
    name: str
    description: str
    input_schema: dict[str, Any]
    source: str  # "local" | "mcp"

    async def call(self, arguments: dict[str, Any]) -> ToolResult: ...


class FunctionTool:
    """An in-process tool from a Python function (sync or async) returning str, dict or ToolResult."""

    source = "local"

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None,
                 description: str | None = None, input_schema: dict[str, Any] | None = None,
                 timeout: float | None = 30.0) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.description = description or (inspect.getdoc(fn) or "").strip()
        self.input_schema = input_schema or {"type": "object", "properties": {}}
        self.timeout = timeout
        self.server_name: str | None = None

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        result = self.fn(**arguments)
        if inspect.isawaitable(result):
            result = await asyncio.wait_for(result, self.timeout) if self.timeout else await result
        if isinstance(result, ToolResult):
            return result
        if isinstance(result, str):
            return ToolResult.text(result)
        import json
        return ToolResult(content=[{"type": "text", "text": json.dumps(result)}], raw=result)


class ToolSet:
    """Tools by name. Sources (MCP connections) register and unregister their tools."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.add(tool)

    def add(self, tool: Tool) -> None:
        self._tools[tool.name] = tool

    def remove(self, name: str) -> None:
        self._tools.pop(name, None)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def all(self) -> list[Tool]:
        return list(self._tools.values())

    def names(self) -> set[str]:
        return set(self._tools)

    def specs(self) -> list[ToolSpec]:
        return [ToolSpec(t.name, t.description, t.input_schema) for t in self._tools.values()]

    def __len__(self) -> int:
        return len(self._tools)


ToolFactory = Callable[[], Awaitable[list[Tool]]]
