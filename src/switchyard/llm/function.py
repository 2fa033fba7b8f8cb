"""`FunctionModel`: a TEST MODEL whose every step is answered by a Python function.

In the spirit of pydantic-ai's FunctionModel. A test hands the agent an `LLMClient` whose
replies it writes in code, in-process, without HTTP:

    def reply(messages, tools, info):
        if info.step == 1:                      # the turn's first model step
            return [tool_call("lookup", {"q": "x"})]
        return f"the tool said {messages[-1]['content']}"

    agent = Agent(loaded, llm_client=FunctionModel(reply))

`fn(messages, tools, info)` gets the step's conversation (the runtime's message dicts), the
offered `ToolSpec`s and a `StepInfo` (step number within the turn, call number, system prompt),
and returns one of:

* a `str`: streamed as text in word-sized pieces, then usage (counted in words) and `stop`;
* a list of `ToolCall`s (see `tool_call()`): streamed as tool-call fragments, then usage and
  `tool-calls`;
* an async iterator (or a list) of deltas (`TextDelta`, `ReasoningDelta`, `ToolCallDelta`,
  `Usage`, `Finish`): streamed exactly as given, for streaming, reasoning, slow-stream or
  odd-provider tests (an `async def ... yield` function works as `fn` directly).

`fn` may be `async`. What it raises reaches the runtime unchanged: raise
`switchyard.errors.LLMError` to play a provider failure. Every step is recorded in `steps`.

It is not an agent-file provider (the factory does not know it): it exists for tests. For a
scripted model over the real OpenAI / Anthropic wire, tests use tests/support/fake_llm.py.
"""

from __future__ import annotations

import inspect
import itertools
import json
import re
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Sequence, Union

from .base import (Delta, Finish, ReasoningDelta, TextDelta, ToolCall, ToolCallDelta, ToolSpec, Usage,
                   content_to_text)

_DELTA_TYPES = (TextDelta, ReasoningDelta, ToolCallDelta, Usage, Finish)


@dataclass(frozen=True)
class StepInfo:
    """What a step's function knows besides the messages and tools.

    step:   1 for the first model step of a turn, 2 for the step after the first tool results,
            ... (1 + the assistant messages after the last user message).
    call:   1-based count of all steps this model has answered (across turns and sessions).
    system: the system prompt the runtime sent with the step (None when there is none).
    """

    step: int
    call: int
    system: str | None


@dataclass(frozen=True)
class RecordedStep:
    """One step as the model saw it (a copy of the message list, so later turns don't change it)."""

    messages: list[dict[str, Any]]
    tools: list[ToolSpec]
    info: StepInfo


Reply = Union[str, Sequence[ToolCall], Sequence[Delta], AsyncIterator[Delta]]
StepFunction = Callable[[list[dict[str, Any]], list[ToolSpec], StepInfo], Union[Reply, Awaitable[Reply]]]


def tool_call(name: str, arguments: dict[str, Any] | str | None = None, *, id: str = "") -> ToolCall:
    """A tool call for a FunctionModel reply. `arguments`: a dict (sent as JSON) or a raw string
    (sent as is, e.g. to test bad JSON). Without an id, the model numbers it (`fn_call_<n>`)."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
    return ToolCall(id=id, name=name, arguments=raw)


def _words(text: str) -> int:
    return len(text.split())


def _pieces(text: str) -> list[str]:
    """Word-sized pieces, whitespace kept, that join back to `text` exactly."""
    return re.findall(r"\S+\s*|\s+", text)


class FunctionModel:
    """An in-process `LLMClient` answered by `fn` (see the module docstring). A test model."""

    def __init__(self, fn: StepFunction, *, model: str = "function", provider: str = "function") -> None:
        self.fn = fn
        self.model = model
        self.provider = provider
        self.steps: list[RecordedStep] = []
        self.closed = False
        self._call_ids = itertools.count(1)

    async def stream(self, messages: list[dict[str, Any]], tools: list[ToolSpec], *,
                     system: str | None = None) -> AsyncIterator[Delta]:
        info = StepInfo(step=_step_of_turn(messages), call=len(self.steps) + 1, system=system)
        self.steps.append(RecordedStep(list(messages), list(tools), info))
        reply: Any = self.fn(messages, tools, info)
        if inspect.isawaitable(reply):
            reply = await reply
        input_words = _words(system or "") + sum(_words(content_to_text(m.get("content"))) for m in messages)

        if isinstance(reply, str):
            for piece in _pieces(reply):
                yield TextDelta(piece)
            yield Usage(input_tokens=input_words, output_tokens=_words(reply))
            yield Finish("stop")
            return
        if hasattr(reply, "__aiter__"):
            async for delta in reply:
                yield delta
            return
        items = list(reply) if isinstance(reply, Iterable) else []
        if items and all(isinstance(item, ToolCall) for item in items):
            for index, call in enumerate(items):
                call_id = call.id or f"fn_call_{next(self._call_ids)}"
                # Arguments in two fragments, as real providers stream them.
                half = len(call.arguments) // 2
                yield ToolCallDelta(index=index, id=call_id, name=call.name, arguments=call.arguments[:half])
                yield ToolCallDelta(index=index, arguments=call.arguments[half:])
            yield Usage(input_tokens=input_words, output_tokens=sum(_words(c.arguments) + 1 for c in items))
            yield Finish("tool-calls")
        elif items and all(isinstance(item, _DELTA_TYPES) for item in items):
            for delta in items:
                yield delta
        else:
            raise TypeError("a FunctionModel function returns a str, a non-empty list of ToolCall "
                            f"(tool_call(...)), or deltas (a list or an async iterator); got {reply!r}")

    async def aclose(self) -> None:
        self.closed = True


def _step_of_turn(messages: list[dict[str, Any]]) -> int:
    step = 1
    for message in reversed(messages):
        role = message.get("role")
        if role == "user":
            break
        if role == "assistant":
            step += 1
    return step
