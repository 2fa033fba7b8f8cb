"""One running turn: a background task, the events it has produced so far, and its result.

The task runs to the end whoever is listening: a client that disconnects stops reading,
not the run. Readers iterate from the first event of the run (so a reader that re-attaches
mid-run sees the whole turn), then wait for more until `run:complete`. The turn sets
`result` (a RunResult) before it publishes run:complete, so a reader that sees the end
also sees how the run ended.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import AsyncIterator, Awaitable, Callable

from switchyard.events import Event, RunResult

# The run whose task is executing: lets the LLM client's retry callback emit llm:retrying
# into the right stream without threading the run through every provider.
current_run: contextvars.ContextVar["Run | None"] = contextvars.ContextVar("switchyard_run", default=None)


class Run:
    def __init__(self, session_id: str, run_id: str | None = None) -> None:
        self.session_id = session_id
        self.id = run_id   # set when replicas share the session's lease (runtime/runs.py)
        # With replicas: sends an event of this run (from outside the turn, e.g. an approval
        # request) to its shared stream too, in order with the turn's own events.
        self.forward: Callable[[Event], None] | None = None
        self.flush: Callable[[], Awaitable[None]] | None = None   # waits until those are sent
        self.lease: str | None = None    # the shared lease's token while the turn holds it
        self.events: list[Event] = []
        self.result: RunResult | None = None
        self.done = False
        self.task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    def publish(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    def finish(self) -> None:
        self.done = True
        self._changed.set()

    async def wait(self) -> None:
        while not self.done:
            self._changed.clear()
            await self._changed.wait()

    async def follow(self, start: int = 0) -> AsyncIterator[Event]:
        index = start
        while True:
            while index < len(self.events):
                event = self.events[index]
                index += 1
                yield event
            if self.done:
                return
            self._changed.clear()
            if index < len(self.events):
                continue
            await self._changed.wait()


async def with_quiet_ticks(events: AsyncIterator[Event], interval: float) -> AsyncIterator[Event | None]:
    """The events, with a None each time `interval` seconds pass without one: the streams
    use the ticks for keep-alives (and A2A to notice pending approvals). Leaving early stops
    reading, never the run."""
    iterator = events.__aiter__()
    pending: asyncio.Future[Event] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield None
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield event
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
