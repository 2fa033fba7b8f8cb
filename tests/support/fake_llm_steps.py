"""The steps a scripted fake LLM (tests/support/fake_llm.py) answers with, and helpers to read
the request bodies it gets. One step answers one request; see FakeLLM for the wire shapes."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, AsyncIterator, Callable, Union

class Step:
    """Base of all steps. `delay` seconds pass before the response starts (before headers)."""

    delay: float = 0.0


class Text(Step):
    def __init__(self, text: str, *, chunks: int = 3, usage: tuple[int, int] | None = None,
                 finish: str = "stop", reasoning: str | None = None, delay: float = 0.0,
                 chunk_delay: float = 0.0) -> None:
        self.text, self.chunks, self.usage, self.finish = text, chunks, usage, finish
        self.reasoning, self.delay, self.chunk_delay = reasoning, delay, chunk_delay

    async def pieces(self) -> AsyncIterator[str]:
        """The streamed text pieces, `chunk_delay` seconds before each."""
        for piece in split(self.text, self.chunks):
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
            yield piece


class Stamped(Text):
    """A streamed text of `chunks` pieces, each the time it was sent (`<time.time_ns()>`),
    `chunk_delay` seconds apart: a client measures how late each piece reached it (latency
    benchmarks). Not streamed as text when the request is not streamed."""

    def __init__(self, chunks: int = 10, *, chunk_delay: float = 0.05,
                 usage: tuple[int, int] | None = None) -> None:
        super().__init__("", chunks=chunks, usage=usage, chunk_delay=chunk_delay)

    async def pieces(self) -> AsyncIterator[str]:
        for _ in range(self.chunks):
            await asyncio.sleep(self.chunk_delay)
            yield f"<{time.time_ns()}>"


class ToolCalls(Step):
    """calls: [(id, name, arguments)] where arguments is a dict (sent as JSON) or a raw string.
    The arguments of each call are streamed in `arg_chunks` pieces."""

    def __init__(self, calls: list[tuple[str, str, Any]], *, text: str | None = None,
                 arg_chunks: int = 3, usage: tuple[int, int] | None = None, delay: float = 0.0) -> None:
        self.calls = [(cid, name, args if isinstance(args, str) else json.dumps(args))
                      for cid, name, args in calls]
        self.text, self.arg_chunks, self.usage, self.delay = text, arg_chunks, usage, delay


class Error(Step):
    """An HTTP error in the protocol's own error shape. `retry_after` becomes a Retry-After
    header (a number of seconds, or a string such as an HTTP date)."""

    def __init__(self, status: int = 500, *, message: str | None = None, retry_after: Any = None,
                 delay: float = 0.0, code: str | None = None) -> None:
        self.status, self.retry_after, self.delay, self.code = status, retry_after, delay, code
        self.message = message or f"fake upstream error {status}"


def context_length_exceeded(window: int, tokens: int) -> Error:
    """OpenAI's answer to a request longer than the model's window (400,
    `code: context_length_exceeded`, its wording); Anthropic's 400 says "prompt is too long"."""
    return Error(400, code="context_length_exceeded",
                 message=(f"This model's maximum context length is {window} tokens. However, your messages "
                          f"resulted in {tokens} tokens. Please reduce the length of the messages."))


class Delay(Step):
    """Wait `seconds` before answering with `then` (default: the default reply)."""

    def __init__(self, seconds: float, then: Step | None = None) -> None:
        self.delay, self.then = seconds, then


class Broken(Step):
    """Start a streamed text reply, send `after_chunks` chunks, then drop the connection."""

    def __init__(self, text: str = "partial reply here", *, chunks: int = 3, after_chunks: int = 1,
                 delay: float = 0.0) -> None:
        self.text, self.chunks, self.after_chunks, self.delay = text, chunks, after_chunks, delay


ScriptItem = Union[Step, Callable[[dict[str, Any]], Step]]


def split(text: str, n: int) -> list[str]:
    """`text` in `n` nearly equal pieces (by characters) that join back exactly."""
    n = max(1, min(n, len(text))) if text else 1
    size, rest = divmod(len(text), n)
    out, pos = [], 0
    for i in range(n):
        end = pos + size + (1 if i < rest else 0)
        out.append(text[pos:end])
        pos = end
    return out


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content
                        if isinstance(p, dict) and p.get("type") == "text")
    return ""


def last_user_text(body: dict[str, Any]) -> str:
    for msg in reversed(body.get("messages") or []):
        if msg.get("role") == "user":
            text = text_of(msg.get("content"))
            if text:
                return text
    return ""


def words_in(body: dict[str, Any]) -> int:
    """The prompt size the fake reports as input tokens: the words of all messages, plus one."""
    return sum(len(text_of(m.get("content")).split()) for m in body.get("messages") or []) + 1


def request_tokens(body: dict[str, Any]) -> int:
    """The size the fake gives a request, in tokens: four characters a token of every message's
    content (non-text content by its JSON), tool calls, the system prompt and the tool schemas,
    plus four tokens of framing per message. Its own rule, deliberately not Switchyard's."""
    def chars(value: Any) -> int:
        if value is None:
            return 0
        return len(value) if isinstance(value, str) else len(json.dumps(value))

    total = chars(body.get("system")) // 4 + chars(body.get("tools")) // 4
    for message in body.get("messages") or []:
        total += 4 + (chars(message.get("content")) + chars(message.get("tool_calls"))) // 4
    return total
