"""What a protocol adapter needs from a run, read once for all of them.

`run_activity(run)` turns a run's events into: `TextPiece`s of the answer (text chunks only),
the tool and approval events as they are, the final `ResponseEvent` and any `ErrorEvent`,
and at the end one `Finished` carrying the run's `RunResult`. With `quiet_every`, a `Quiet`
item arrives each time that many seconds pass without an event (for keep-alives, and for
A2A to notice approvals). The OpenAI and A2A adapters and the CLI's printer read this; the
REST SSE stream sends every event as it is (server/sse.py).
"""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass
from typing import AsyncIterator, Union

from switchyard.events import (ApprovalRequestEvent, ApprovalResponseEvent, ChunkEvent, ErrorEvent, Event,
                               ResponseEvent, RunCompleteEvent, RunFailure, RunResult, ToolCallEvent,
                               ToolResultEvent, ToolRunningEvent)
from switchyard.runtime.run import Run, with_quiet_ticks


@dataclass(frozen=True)
class TextPiece:
    """A piece of the answer's text, in order."""

    text: str


@dataclass(frozen=True)
class Quiet:
    """`every` seconds passed without an event, `count` times in a row so far."""

    every: float
    count: int

    @property
    def seconds(self) -> float:
        """How long the run has been quiet."""
        return self.every * self.count


@dataclass(frozen=True)
class Finished:
    """The run ended; always the last item."""

    result: RunResult


ToolActivity = Union[ToolCallEvent, ToolRunningEvent, ToolResultEvent]
ApprovalActivity = Union[ApprovalRequestEvent, ApprovalResponseEvent]
Activity = Union[TextPiece, ToolActivity, ApprovalActivity, ResponseEvent, ErrorEvent, Finished, Quiet]

_PASSED_ON = (ToolCallEvent, ToolRunningEvent, ToolResultEvent, ApprovalRequestEvent,
              ApprovalResponseEvent, ResponseEvent, ErrorEvent)


async def run_activity(run: Run, *, quiet_every: float | None = None) -> AsyncIterator[Activity]:
    """The run's activity from its first event to its end. Leaving early stops reading,
    never the run."""
    events: AsyncIterator[Event | None] = run.follow()
    if quiet_every is not None:
        events = with_quiet_ticks(run.follow(), quiet_every)
    quiet = 0
    async with aclosing(events) as items:  # type: ignore[type-var]
        async for event in items:
            if event is None:
                quiet += 1
                yield Quiet(quiet_every or 0.0, quiet)
                continue
            quiet = 0
            if isinstance(event, ChunkEvent):
                if event.kind == "text" and event.content:
                    yield TextPiece(event.content)
            elif isinstance(event, RunCompleteEvent):
                yield Finished(run.result or result_from_end(event))
                return
            elif isinstance(event, _PASSED_ON):
                yield event


def result_from_end(event: RunCompleteEvent, answer: ResponseEvent | None = None) -> RunResult:
    """A result from the run's events, when the run object recorded none: a run followed from
    another replica (its `answer`, the llm:response event, carries what it said), or a reader
    kept safe (a local run always records its result)."""
    error = RunFailure(event.error) if event.error is not None else None
    said = ({"content": answer.content, "reasoning": answer.reasoning, "usage": answer.usage,
             "message_id": answer.message_id, "model": answer.model, "provider": answer.provider}
            if answer is not None and error is None else {})
    return RunResult(event.session_id, event.finish_reason, error=error, steps=event.step_count,
                     duration_ms=event.duration_ms, **said)
