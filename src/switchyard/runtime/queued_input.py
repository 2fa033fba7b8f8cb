"""Queued input of an agent's sessions: steer messages into the running turn, follow-ups
after it (the queues: runtime/queues.py).

A follow-up (and a steer message that found no turn to join) starts its turn through the
agent's own queued-turn path, `start_run(..., wait=True)` under the supervisor group of
queued turns, when the session is free: at once if it is idle, else when the running turn
ends (`after_run`). One queued message per turn, in order; leftover steer messages go first,
together, since they were meant for the turn that just ended.

With replicas (`share`) the queues are in Redis and any replica may start the next queued
turn; exactly one does: it takes the session's lease *before* taking the message out of the
queue (a replica whose turn holds the lease keeps it for that turn, bus/shared.py), and puts
the message back if the turn cannot start. A message queued while another replica's turn runs
waits for that turn's end (its replica checks the queues after releasing the lease; the
receiving replica checked the lease after queueing, so one of the two sees the other), and a
periodic `sweep` starts what a dead replica left queued once its lease expired.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Awaitable, Callable

from switchyard.events import Event, MessageDequeuedEvent, MessageQueuedEvent
from switchyard.ids import new_id
from switchyard.runtime.queues import (QueuedMessage, QueueName, SessionQueues, SharedSessionQueues,
                                       content_parts)
from switchyard.runtime.supervisor import SupervisorStopped

log = logging.getLogger("switchyard.agent")


class QueuedInput:
    def __init__(self, publish: Callable[[Event], Awaitable[None]], start_turn: Callable[[str, Any], Awaitable[Any]],
                 spawn: Callable[[Any, str], Any], occupied: Callable[[str], bool],
                 expand: Callable[[str, Any], Awaitable[Any]] | None = None) -> None:
        self.queues: Any = SessionQueues()
        self._publish = publish
        self._start_turn = start_turn
        self._spawn = spawn
        self._occupied = occupied
        self.shared: Any = None       # bus.shared.SharedState with replicas
        # (session id, content) -> content with its @resource mentions expanded (the agent's).
        self.expand = expand
        self.agent_id = ""

    def share(self, shared: Any, agent_id: str) -> None:
        """Keep the queues in Redis, shared by the replicas (before the agent starts)."""
        from switchyard.bus.shared_queues import RedisQueues
        self.shared, self.agent_id = shared, agent_id
        self.queues = SharedSessionQueues(RedisQueues(shared, agent_id))

    async def add(self, queue: QueueName, session_id: str, content: Any, *, kind: str = "default",
                  metadata: dict[str, Any] | None = None) -> tuple[QueuedMessage, int]:
        message = QueuedMessage(content_parts(content), kind, metadata)
        position = await self.queues.add(queue, session_id, message)
        await self._publish(MessageQueuedEvent(session_id, queue, message.id, position))
        if queue == "follow-up" or not self._occupied(session_id):
            self.kick(session_id)
        return message, position

    async def take_steer(self, session_id: str) -> list[QueuedMessage]:
        """For the running turn, at a step boundary (TurnContext.take_steer), with their
        `@resource` mentions expanded (`expand`) as a message sent on its own has them."""
        taken = await self.queues.take_all("steer", session_id)
        if self.expand is None:
            return taken
        return [dataclasses.replace(m, content=content_parts(await self.expand(session_id, m.content)))
                for m in taken]

    def after_run(self, session_id: str) -> None:
        """A turn of the session ended: start the next queued one, if any (with replicas,
        checked in Redis by the started task)."""
        if self.shared is None and not self.queues.has_any_now(session_id):
            return
        self.kick(session_id)

    def kick(self, session_id: str) -> None:
        try:
            self._spawn(self._next_turn(session_id), f"follow-up:{session_id}")
        except SupervisorStopped:
            log.info("agent stopping: queued input of session %s not started", session_id)

    async def _next_turn(self, session_id: str) -> None:
        if self._occupied(session_id) or not await self.queues.has_any(session_id):
            return   # the running turn's end comes back here
        if self.shared is None:
            await self._start_next(session_id)
            return
        token = await self.shared.acquire_lease(self.agent_id, session_id, new_id())
        if token is None:
            return   # another replica's turn runs: its end (or the sweep) starts the next
        try:
            await self._start_next(session_id)
        finally:
            # The started turn holds the lease under its own token by now: this only frees it
            # when nothing started.
            await self.shared.release_lease(self.agent_id, session_id, token)

    async def _start_next(self, session_id: str) -> None:
        steer = await self.queues.take_all("steer", session_id)
        if steer:
            queue: QueueName = "steer"
            taken = steer
        else:
            first = await self.queues.take_first("follow-up", session_id)
            if first is None:
                return
            queue, taken = "follow-up", [first]
        content = [part for message in taken for part in message.content]
        await self._publish(MessageDequeuedEvent(session_id, queue, tuple(m.id for m in taken)))
        try:
            await self._start_turn(session_id, content)
        except BaseException:
            await self.queues.put_back(queue, session_id, taken)   # for the next turn's end, or the sweep
            raise

    async def sweep(self) -> None:
        """With replicas: start the queued input no running turn will pick up (its receiving
        replica died before starting it, or the turn's replica died); forget empty sessions."""
        from switchyard.bus.shared_queues import RedisQueues
        redis_queues: RedisQueues = self.queues.redis
        for session_id in await redis_queues.waiting_sessions():
            if self._occupied(session_id):
                continue
            if not await self.queues.has_any(session_id):
                await redis_queues.tidy(session_id)
            elif await self.shared.running_run(self.agent_id, session_id) is None:
                self.kick(session_id)
