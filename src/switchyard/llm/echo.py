"""The `echo` provider: a TEST MODEL, not an AI. Offline and deterministic.

It exists so Switchyard runs, demos and tests without any API key or model download:

* It answers "Echo: <last user text>", streamed in word chunks, with usage counted in words
  and finish reason `stop`.
* If the last user message is `/tool <name> <json-args>` and a tool called <name> is offered,
  it calls that tool (finish `tool-calls`). When the tool result comes back it answers
  "Tool <name> returned: <result text>".

Nothing it says means anything; the factory prints a notice when it falls back to it.
"""

from __future__ import annotations

import json
import re
from typing import Any, AsyncIterator

from .base import Delta, Finish, TextDelta, ToolCallDelta, ToolSpec, Usage, content_to_text

_TOOL_COMMAND = re.compile(r"^\s*/tool\s+(\S+)\s*(.*)$", re.DOTALL)


def _words(text: str) -> int:
    return len(text.split())


def _chunks(text: str, size: int = 2) -> list[str]:
    """Split into pieces of `size` words, keeping the whitespace so they join back exactly."""
    tokens = re.findall(r"\S+\s*|\s+", text)
    return ["".join(tokens[i:i + size]) for i in range(0, len(tokens), size)] or [""]


class EchoClient:
    """Deterministic offline test model (see the module docstring)."""

    def __init__(self, model: str = "echo", provider: str = "echo") -> None:
        self.provider = provider
        self.model = model
        self._calls = 0

    async def stream(self, messages: list[dict[str, Any]], tools: list[ToolSpec], *,
                     system: str | None = None) -> AsyncIterator[Delta]:
        input_words = _words(system or "") + sum(_words(content_to_text(m.get("content"))) for m in messages)
        last = messages[-1] if messages else {"role": "user", "content": ""}

        if last.get("role") == "tool":
            name = last.get("name") or self._tool_name_for(messages, last.get("toolCallId"))
            reply = f"Tool {name} returned: {content_to_text(last.get('content'))}"
        else:
            user_text = self._last_user_text(messages)
            match = _TOOL_COMMAND.match(user_text)
            offered = {t.name for t in tools}
            if match and match.group(1) in offered:
                name, raw_args = match.group(1), match.group(2).strip() or "{}"
                try:
                    arguments = json.dumps(json.loads(raw_args))
                except json.JSONDecodeError:
                    arguments = raw_args  # pass bad JSON through: the runtime must cope with it
                self._calls += 1
                call_id = f"echo_call_{self._calls}"
                # Split the arguments in two fragments, as real providers stream them.
                half = len(arguments) // 2
                yield ToolCallDelta(index=0, id=call_id, name=name, arguments=arguments[:half])
                yield ToolCallDelta(index=0, arguments=arguments[half:])
                yield Usage(input_tokens=input_words, output_tokens=_words(arguments) + 1)
                yield Finish("tool-calls")
                return
            reply = f"Echo: {user_text}"

        for piece in _chunks(reply):
            yield TextDelta(piece)
        yield Usage(input_tokens=input_words, output_tokens=_words(reply))
        yield Finish("stop")

    @staticmethod
    def _last_user_text(messages: list[dict[str, Any]]) -> str:
        for msg in reversed(messages):
            if msg.get("role") == "user":
                return content_to_text(msg.get("content"))
        return ""

    @staticmethod
    def _tool_name_for(messages: list[dict[str, Any]], call_id: str | None) -> str:
        for msg in reversed(messages):
            for call in msg.get("toolCalls") or []:
                if call.get("id") == call_id:
                    return call["function"]["name"]
        return "tool"

    async def aclose(self) -> None:
        return None
