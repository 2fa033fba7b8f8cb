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
    def __init__(self, live: LiveSessions, bus: Bus, spawn: Spawn | None = None, agent_id: str = "") -> None:
        self.live = live
        self.bus = bus
        self._spawn = spawn
        self.agent_id = agent_id
        self.observers: list[Observer] = []
        # bus.shared.SharedState with replicas: a turn's events go to its session's stream there
        # (any replica re-attaches to it), instead of the agent's bus.
        self.shared: Any = None

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
            if live.run.forward is not None:
                live.run.forward(event)
        self._observe(event)
        await self.bus.publish(event)

    def for_run(self, run: Run) -> Callable[[Event], None]:
        """The publisher of a turn's own events: into its run at once, and onto the bus (only
        when someone listens there: publishing every chunk to nobody costs a task each) by
        one sender task at a time, so that they reach the bus in the order they happened."""
        if self.shared is not None and run.id is not None:
            return self._for_shared_run(run)
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

    def _for_shared_run(self, run: Run) -> Callable[[Event], None]:
        """for_run with replicas: every event also goes to the session's shared stream, in
        order, the waiting ones in one round trip. `run.flush()` waits until all are sent."""
        waiting: list[Event] = []
        sender: asyncio.Future[None] | None = None
        shared, agent_id, session_id, run_id = self.shared, self.agent_id, run.session_id, run.id
        failed = False

        async def send() -> None:
            nonlocal failed
            while waiting:
                batch = waiting[:]
                del waiting[:]
                try:
                    await shared.append(agent_id, session_id, run_id, batch)
                except Exception as exc:  # noqa: BLE001 - the run goes on; only re-attaching elsewhere suffers
                    if not failed:
                        log.warning("session %s: could not send events to Redis: %s", session_id, exc)
                    failed = True

        def forward(event: Event) -> None:
            nonlocal sender
            waiting.append(event)
            if sender is None or sender.done():
                sender = self._start(send, f"publish:{session_id}")

        async def flush() -> None:
            while sender is not None and not sender.done():
                await asyncio.shield(sender)

        def publish(event: Event) -> None:
            run.publish(event)
            if self.observers:
                self._observe(event)
            if run.forward is not None:   # None once the turn handed its end to the stream
                forward(event)

        run.forward, run.flush = forward, flush
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
