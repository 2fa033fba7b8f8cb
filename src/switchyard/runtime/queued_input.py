"""Queued input of an agent's sessions: steer messages into the running turn, follow-ups
after it (the queues: runtime/queues.py).

A follow-up (and a steer message that found no turn to join) starts its turn through the
agent's own queued-turn path, `start_run(..., wait=True)` under the supervisor group of
queued turns, when the session is free: at once if it is idle, else when the running turn
ends (`after_run`). One queued message per turn, in order; leftover steer messages go first,
together, since they were meant for the turn that just ended.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from switchyard.events import Event, MessageDequeuedEvent, MessageQueuedEvent
from switchyard.runtime.queues import QueuedMessage, QueueName, SessionQueues, content_parts
from switchyard.runtime.supervisor import SupervisorStopped

log = logging.getLogger("switchyard.agent")


class QueuedInput:
    def __init__(self, publish: Callable[[Event], Awaitable[None]], start_turn: Callable[[str, Any], Awaitable[Any]],
                 spawn: Callable[[Any, str], Any], occupied: Callable[[str], bool]) -> None:
        self.queues = SessionQueues()
        self._publish = publish
        self._start_turn = start_turn
        self._spawn = spawn
        self._occupied = occupied

    async def add(self, queue: QueueName, session_id: str, content: Any, *, kind: str = "default",
                  metadata: dict[str, Any] | None = None) -> tuple[QueuedMessage, int]:
        message = QueuedMessage(content_parts(content), kind, metadata)
        position = self.queues.add(queue, session_id, message)
        await self._publish(MessageQueuedEvent(session_id, queue, message.id, position))
        if queue == "follow-up" or not self._occupied(session_id):
            self.kick(session_id)
        return message, position

    def take_steer(self, session_id: str) -> list[QueuedMessage]:
        """For the running turn, at a step boundary (TurnContext.take_steer)."""
        return self.queues.take_all("steer", session_id)

    def after_run(self, session_id: str) -> None:
        """A turn of the session ended: start the next queued one, if any."""
        if self.queues.list("steer", session_id) or self.queues.list("follow-up", session_id):
            self.kick(session_id)

    def kick(self, session_id: str) -> None:
        try:
            self._spawn(self._next_turn(session_id), f"follow-up:{session_id}")
        except SupervisorStopped:
            log.info("agent stopping: queued input of session %s not started", session_id)

    async def _next_turn(self, session_id: str) -> None:
        if self._occupied(session_id):
            return   # the running turn's end comes back here
        steer = self.queues.take_all("steer", session_id)
        if steer:
            queue: QueueName = "steer"
            taken = steer
        else:
            first = self.queues.take_first("follow-up", session_id)
            if first is None:
                return
            queue, taken = "follow-up", [first]
        content = [part for message in taken for part in message.content]
        await self._publish(MessageDequeuedEvent(session_id, queue, tuple(m.id for m in taken)))
        await self._start_turn(session_id, content)
