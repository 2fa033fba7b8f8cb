"""An MCP server's tool as a Switchyard `Tool`, with argument validation before the call.

This module does not import `mcp`: it only needs the tool's listing (name, description,
inputSchema) and a connection object whose `call_tool(name, arguments)` returns a ToolResult.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from switchyard.tools.base import ToolResult, ToolSource
from switchyard.tools.context import ToolCallContext

log = logging.getLogger("switchyard.mcp")


@dataclass(frozen=True)
class MCPToolSpec:
    """A tool as its server lists it."""

    name: str
    description: str = ""
    input_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


class _Caller(Protocol):
    name: str

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolResult: ...


def _validator(schema: dict[str, Any]) -> Any | None:
    """A validator for the schema, or None when the server sent a schema jsonschema rejects
    (a broken schema must not make the tool unusable; the server still validates)."""
    # Imported here: the HTTP API imports this module to list tools, and jsonschema is only
    # needed once an MCP server has listed its tools.
    from jsonschema import SchemaError
    from jsonschema.validators import Draft202012Validator, validator_for
    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        log.warning("ignoring an invalid inputSchema: %s", exc.message)
        return None
    return cls(schema)


def argument_errors(validator: Any, arguments: dict[str, Any]) -> list[str]:
    """Every problem with the arguments, each naming the field: "'city' is a required property",
    "at 'a': 'x' is not of type 'integer'"."""
    problems = []
    for error in sorted(validator.iter_errors(arguments), key=lambda e: list(map(str, e.absolute_path))):
        where = ".".join(str(p) for p in error.absolute_path)
        problems.append(f"at '{where}': {error.message}" if where else error.message)
    return problems


class MCPTool:
    """One tool of one MCP server. `name` is what the model sees (maybe `<server>--<tool>`,
    see MCPManager); `original_name` is what the server is called with."""

    source: ToolSource = "mcp"

    def __init__(self, connection: _Caller, spec: MCPToolSpec, *, name: str | None = None) -> None:
        self.connection = connection
        self.spec = spec
        self.original_name = spec.name
        self.name = name or spec.name
        self.description = spec.description
        self.input_schema = spec.input_schema
        self.server_name: str | None = connection.name
        self._validator = _validator(spec.input_schema)

    async def call(self, arguments: dict[str, Any] | None, context: ToolCallContext) -> ToolResult:
        # The context is not sent: an MCP server is its own process with its own rules. A
        # cancelled turn cancels the awaiting task, which cancels the queued request.
        arguments = {} if arguments is None else arguments
        if not isinstance(arguments, dict):
            return ToolResult.text(
                f"Invalid arguments for tool '{self.name}': expected a JSON object, "
                f"got {type(arguments).__name__}", is_error=True)
        if self._validator is not None:
            problems = argument_errors(self._validator, arguments)
            if problems:
                # Checked here so the model gets a precise, field-named error without a
                # round trip, and a server never sees arguments its schema forbids.
                return ToolResult.text(
                    f"Invalid arguments for tool '{self.name}': " + "; ".join(problems), is_error=True)
        return await self.connection.call_tool(self.original_name, arguments)

    def __repr__(self) -> str:
        return f"MCPTool({self.name!r}, server={self.server_name!r})"
