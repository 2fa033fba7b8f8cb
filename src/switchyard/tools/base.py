"""The tool interface the agent loop calls, and in-process function tools.

A `Tool` has a name, a description, a JSON schema for its arguments, where it comes from
(`source`, and `server_name` for an MCP tool), and an async `call(arguments, context)` that
returns a `ToolResult`; `context` is the `ToolCallContext` of the call (tools/context.py). A
tool fails either by returning an error result or by raising `ToolError` (whose message goes
back to the model); any other exception is reported to the model with its type. A `ToolSet` is
what the agent sees: every tool of every source (function tools, MCP servers), looked up by name.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal, Protocol, runtime_checkable

from switchyard.llm.base import ToolSpec
from switchyard.tools.context import ToolCallContext

ToolSource = Literal["local", "mcp", "builtin"]


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
    source: ToolSource          # "mcp": an MCP server's tool; "builtin": a `tools:` family; "local": in-process
    server_name: str | None     # the MCP server it belongs to (None for a local tool)

    async def call(self, arguments: dict[str, Any], context: ToolCallContext) -> ToolResult: ...


class FunctionTool:
    """An in-process tool from a Python function (sync or async) returning str, dict or ToolResult.

    A parameter annotated `ToolCallContext` receives the call's context (the model never sees
    or sets it). A sync function runs in a worker thread, so a blocking tool does not stall
    other sessions; asyncio cannot stop a thread, so a long sync tool should poll
    `context.cancelled` (or sleep with `context.cancellation.wait_blocking`). `timeout`
    (seconds, None for none) bounds both kinds; on expiry the context is cancelled too.
    """

    source: ToolSource = "local"
    server_name: str | None = None

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None,
                 description: str | None = None, input_schema: dict[str, Any] | None = None,
                 timeout: float | None = 30.0) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.description = description or (inspect.getdoc(fn) or "").strip()
        self.input_schema = input_schema or {"type": "object", "properties": {}}
        self.timeout = timeout
        self._context_param = _context_parameter(fn)
        self._is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None))

    async def call(self, arguments: dict[str, Any], context: ToolCallContext) -> ToolResult:
        kwargs = dict(arguments)
        if self._context_param is not None:
            kwargs[self._context_param] = context
        try:
            result = await self._bounded(self._invoke(kwargs))
        except asyncio.TimeoutError:
            context.cancellation.cancel("timed out")
            raise
        if isinstance(result, ToolResult):
            return result
        if isinstance(result, str):
            return ToolResult.text(result)
        return ToolResult(content=[{"type": "text", "text": json.dumps(result)}], raw=result)

    async def _invoke(self, kwargs: dict[str, Any]) -> Any:
        result = self.fn(**kwargs) if self._is_async else await asyncio.to_thread(self.fn, **kwargs)
        if inspect.isawaitable(result):   # a sync function that returned a coroutine
            result = await result
        return result

    async def _bounded(self, work: Any) -> Any:
        return await asyncio.wait_for(work, self.timeout) if self.timeout else await work


def _context_parameter(fn: Callable[..., Any]) -> str | None:
    """The name of the function's parameter annotated `ToolCallContext`, if any (also when the
    annotation is a string, as under `from __future__ import annotations`)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    for parameter in parameters:
        annotation = parameter.annotation
        if annotation is ToolCallContext or (
                isinstance(annotation, str)
                and annotation.strip("'\"").rsplit(".", 1)[-1] == "ToolCallContext"):
            return parameter.name
    return None


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
