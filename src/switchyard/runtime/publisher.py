"""Where an agent's events go: into the session's running turn (its streams replay them)
and onto the bus (other replicas, re-attaching clients elsewhere)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Callable, Coroutine

from switchyard.bus import Bus
from switchyard.events import Event
from switchyard.runtime.run import Run
from switchyard.runtime.sessions import LiveSessions

log = logging.getLogger("switchyard.agent")


# Starts a named background coroutine (the agent's Supervisor.spawn): it holds the task, logs a
# failure, and lets the agent flush the last sends before the bus closes.
Spawn = Callable[[Coroutine[Any, Any, None], str], Any]

# Sees every event the agent publishes, synchronously and in order (the webhook outbox's
# recorder, automation/outbox.py): it must only record, never wait or raise.
Observer = Callable[[Event], None]


class EventPublisher:
    def __init__(self, live: LiveSessions, bus: Bus, spawn: Spawn | None = None) -> None:
        self.live = live
        self.bus = bus
        self._spawn = spawn
        self.observers: list[Observer] = []

    def _observe(self, event: Event) -> None:
        for observer in self.observers:
            try:
                observer(event)
            except Exception:  # noqa: BLE001 - an observer's failure must not break the run
                log.exception("event observer failed on %s", event.name)

    async def publish(self, event: Event) -> None:
        """An event from outside a turn (an approval request, a new title): into the
        session's running turn, if any, and onto the bus."""
        live = self.live.peek(event.session_id)
        if live is not None and live.run is not None and not live.run.done:
            live.run.publish(event)
        self._observe(event)
        await self.bus.publish(event)

    def for_run(self, run: Run) -> Callable[[Event], None]:
        """The publisher of a turn's own events: into its run at once, and onto the bus (only
        when someone listens there: publishing every chunk to nobody costs a task each) by
        one sender task at a time, so that they reach the bus in the order they happened."""
        waiting: deque[Event] = deque()
        sender: asyncio.Future[None] | None = None

        async def send() -> None:
            while waiting:
                await self.bus.publish(waiting.popleft())

        def publish(event: Event) -> None:
            nonlocal sender
            run.publish(event)
            if self.observers:
                self._observe(event)
            if self._bus_has_listeners(event.session_id):
                waiting.append(event)
                if sender is None or sender.done():
                    sender = self._start(send, f"publish:{event.session_id}")
        return publish

    def _start(self, work: Callable[[], Coroutine[Any, Any, None]], name: str) -> Any:
        if self._spawn is not None:
            try:
                return self._spawn(work(), name)
            except RuntimeError:  # the supervisor is stopping (it closed that coroutine): send anyway
                pass
        return asyncio.ensure_future(work())

    def _bus_has_listeners(self, session_id: str) -> bool:
        count = getattr(self.bus, "subscriber_count", None)
        return True if count is None else count(session_id) > 0
