"""`BuiltinTool`: a tool of a `tools:` family, with a pydantic model for its input.

The model is the tool's contract twice over: its JSON schema is what the model sees
(`input_schema`), and every call's arguments are validated against it first, so a bad
argument comes back to the model as an error naming the field, and the handler only ever
sees valid, typed input. A handler returns a dict (sent as JSON text), a string or a
ToolResult, and raises ToolError (or SandboxViolation) for a failure the model should read.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from switchyard.tools.base import ToolResult, ToolSource
from switchyard.tools.context import ToolCallContext

In = TypeVar("In", bound=BaseModel)


class ToolInput(BaseModel):
    """Base of every built-in tool's input: unknown arguments are an error, as in the reference."""

    model_config = ConfigDict(extra="forbid")


Handler = Callable[[Any, ToolCallContext], Awaitable[Any]]


class BuiltinTool(Generic[In]):
    source: ToolSource = "builtin"
    server_name: str | None = None

    def __init__(self, name: str, description: str, input_model: type[In],
                 handler: Callable[[In, ToolCallContext], Awaitable[Any]], *, family: str) -> None:
        self.name = name
        self.description = description
        self.input_model = input_model
        self.handler = handler
        self.family = family
        self.input_schema = _schema(input_model)

    async def call(self, arguments: dict[str, Any], context: ToolCallContext) -> ToolResult:
        try:
            parsed = self.input_model.model_validate(arguments or {})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}"
                                 for e in exc.errors())
            return ToolResult.text(f"invalid arguments for {self.name}: {problems}", is_error=True)
        result = await self.handler(parsed, context)
        if isinstance(result, ToolResult):
            return result
        if isinstance(result, str):
            return ToolResult.text(result)
        return ToolResult(content=[{"type": "text", "text": json.dumps(result, default=str)}], raw=result)


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema without pydantic's titles (the model reads descriptions)."""
    schema = model.model_json_schema()

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "title" or not isinstance(v, str)}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(schema)
