"""The one small interface every LLM provider implements.

A client turns a conversation (a list of messages in the reference's InternalMessage shape:
`{role: system|user|assistant|tool, content, toolCalls?, toolCallId?, name?}`) plus tool specs
into an async stream of `Delta`s: text, reasoning, tool-call fragments, usage, and one finish.
Provider SDK exceptions are translated into `switchyard.errors.LLMError` at this boundary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Protocol, Union, runtime_checkable


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True)
class ToolCallDelta:
    """A fragment of one tool call. `index` ties fragments together; `id` and `name` arrive
    on the first fragment, `arguments` is a piece of the JSON argument string."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def to_dict(self) -> dict[str, int]:
        return {
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "reasoningTokens": self.reasoning_tokens,
            "cacheReadTokens": self.cache_read_tokens,
            "cacheWriteTokens": self.cache_write_tokens,
            "totalTokens": self.total_tokens,
        }

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )


# The reference's finish reasons: stop, tool-calls, length, content-filter, error, other,
# unknown, cancelled, max-steps. Providers map theirs onto the first five.
@dataclass(frozen=True)
class Finish:
    reason: str


Delta = Union[TextDelta, ReasoningDelta, ToolCallDelta, Usage, Finish]


@runtime_checkable
class LLMClient(Protocol):
    provider: str
    model: str

    def stream(self, messages: list[dict[str, Any]], tools: list[ToolSpec], *,
               system: str | None = None) -> AsyncIterator[Delta]:
        """Stream one model step. Raises LLMError (after the client's own retries)."""
        ...

    async def aclose(self) -> None: ...


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # the raw JSON string the model produced

    def parsed_arguments(self) -> dict[str, Any]:
        """Arguments as a dict; raises ValueError with a readable reason when they are not
        a JSON object (bad arguments go back to the model as a tool error)."""
        if not self.arguments.strip():
            return {}
        try:
            value = json.loads(self.arguments)
        except json.JSONDecodeError as exc:
            raise ValueError(f"arguments are not valid JSON: {exc.msg} at position {exc.pos}") from None
        if not isinstance(value, dict):
            raise ValueError(f"arguments must be a JSON object, got {type(value).__name__}")
        return value

    def to_message_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function",
                "function": {"name": self.name, "arguments": self.arguments}}


@dataclass
class StepResult:
    """Everything one model step produced, accumulated from its deltas."""

    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"


class ToolCallAccumulator:
    """Joins ToolCallDeltas by index into whole ToolCalls, in the order they began."""

    def __init__(self) -> None:
        self._calls: dict[int, ToolCall] = {}

    def add(self, delta: ToolCallDelta) -> None:
        call = self._calls.get(delta.index)
        if call is None:
            call = ToolCall(id=delta.id or "", name=delta.name or "", arguments="")
            self._calls[delta.index] = call
        else:
            if delta.id and not call.id:
                call.id = delta.id
            if delta.name and not call.name:
                call.name = delta.name
        call.arguments += delta.arguments

    def calls(self) -> list[ToolCall]:
        return [self._calls[i] for i in sorted(self._calls)]


def append_turn(turns: list[dict[str, Any]], role: str, items: list[dict[str, Any]], *,
                key: str = "content") -> None:
    """Add `items` to the conversation as a `role` turn, merged into the last turn when it has
    the same role: the Anthropic, Gemini and Bedrock APIs want the roles to alternate (several
    tool results, for one, form a single user turn). Nothing is added for no items."""
    if not items:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1][key].extend(items)
    else:
        turns.append({"role": role, key: list(items)})


def call_arguments(call: dict[str, Any]) -> dict[str, Any]:
    """A stored tool call's arguments as an object ({} when they are not valid JSON)."""
    try:
        args = json.loads(call["function"].get("arguments") or "{}")
    except json.JSONDecodeError:
        return {}
    return args if isinstance(args, dict) else {}


def alternating_turns(messages: list[dict[str, Any]], *, blocks: Callable[[Any], list[dict[str, Any]]],
                      tool_use: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]],
                      tool_result: Callable[[dict[str, Any]], dict[str, Any]],
                      assistant_role: str = "assistant", key: str = "content",
                      add_result: Callable[[list[dict[str, Any]], dict[str, Any]], None] | None = None,
                      ) -> tuple[list[str], list[dict[str, Any]]]:
    """Our history as the turns of an API whose user and assistant turns alternate (Anthropic,
    Gemini, Bedrock; each gives its own block builders): system texts lifted out and returned
    apart; a message's content as `blocks(content)`; an assistant's tool calls after its
    content, each `tool_use(call, arguments)`; a tool message as `tool_result(message)` in a
    user turn (`add_result(turns, block)` when the API has its own rule for where it goes);
    consecutive same-role turns merged (append_turn)."""
    systems: list[str] = []
    out: list[dict[str, Any]] = []
    for msg in messages:
        role = msg.get("role")
        if role == "system":
            text = content_to_text(msg.get("content"))
            if text:
                systems.append(text)
        elif role == "user":
            append_turn(out, "user", blocks(msg.get("content")), key=key)
        elif role == "assistant":
            items = blocks(msg.get("content"))
            items.extend(tool_use(call, call_arguments(call)) for call in msg.get("toolCalls") or [])
            append_turn(out, assistant_role, items, key=key)
        elif role == "tool":
            block = tool_result(msg)
            if add_result is not None:
                add_result(out, block)
            else:
                append_turn(out, "user", [block], key=key)
    return systems, out


def content_to_text(content: Any) -> str:
    """Flatten a message content (string, None, or a list of parts) to plain text for
    providers and tools that take text only."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if isinstance(part, dict):
            if part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif part.get("type") in ("image", "file"):
                parts.append(f"[{part.get('type')}: {part.get('mimeType') or part.get('filename') or 'attachment'}]")
        else:
            parts.append(str(part))
    return "\n".join(parts)
