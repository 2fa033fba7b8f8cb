"""The steer and follow-up queues of an agent's sessions (POST /api/steer|follow-up/{id}).

- steer: guidance for the running turn, injected as a user message at its next step
  (runtime/turn.py takes them between steps); what is left when the turn ends runs as the
  next turn, like a follow-up.
- follow-up: a message that runs as a turn of its own once the session is free, in order.

Without replicas they are held in the memory of the process that runs the session's turns: a
restart drops queued messages that had not started (a started follow-up is an ordinary turn,
stored as such). With replicas (Redis configured) they are in Redis (`SharedSessionQueues`,
bus/shared_queues.py), seen alike from every replica.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from switchyard.ids import new_id, now_ms
from switchyard.observability.instruments import queued

QueueName = Literal["steer", "follow-up"]
QUEUES: tuple[QueueName, ...] = ("steer", "follow-up")
# Per session and queue: a client cannot grow a session's memory without bound.
MAX_QUEUED = 100


def content_parts(content: Any) -> list[dict[str, Any]]:
    """The reference lists queued content as ContentPart[]: a string becomes one text part."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content)


@dataclass
class QueuedMessage:
    content: list[dict[str, Any]]
    kind: str = "default"
    metadata: dict[str, Any] | None = None
    id: str = field(default_factory=new_id)
    queued_at: int = field(default_factory=now_ms)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "QueuedMessage":
        return cls(content=list(data.get("content") or []), kind=data.get("kind") or "default",
                   metadata=data.get("metadata"), id=str(data["id"]), queued_at=int(data.get("queuedAt") or 0))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "content": self.content, "queuedAt": self.queued_at}
        if self.metadata is not None:
            out["metadata"] = self.metadata
        out["kind"] = self.kind
        return out


def _full(queue: str, session_id: str) -> Exception:
    from switchyard.errors import LimitError
    return LimitError(f"the {queue} queue of session {session_id} is full ({MAX_QUEUED} messages)",
                      code="queue_full", status=429)


class SessionQueues:
    """In this process's memory (no replicas)."""

    def __init__(self) -> None:
        self._queues: dict[tuple[str, str], list[QueuedMessage]] = defaultdict(list)

    async def add(self, queue: QueueName, session_id: str, message: QueuedMessage) -> int:
        """Queue `message`; its 1-based position. LimitError past MAX_QUEUED."""
        items = self._queues[(queue, session_id)]
        if len(items) >= MAX_QUEUED:
            raise _full(queue, session_id)
        items.append(message)
        queued(queue, 1)
        return len(items)

    async def list(self, queue: QueueName, session_id: str) -> list[QueuedMessage]:
        return list(self._queues.get((queue, session_id), ()))

    async def has_any(self, session_id: str) -> bool:
        return self.has_any_now(session_id)

    def has_any_now(self, session_id: str) -> bool:
        return any(self._queues.get((q, session_id)) for q in QUEUES)

    async def remove(self, queue: QueueName, session_id: str, message_id: str) -> bool:
        items = self._queues.get((queue, session_id), [])
        for i, item in enumerate(items):
            if item.id == message_id:
                del items[i]
                queued(queue, -1)
                self._tidy(queue, session_id)
                return True
        return False

    async def clear(self, queue: QueueName, session_id: str) -> int:
        return len(await self.take_all(queue, session_id))

    async def take_all(self, queue: QueueName, session_id: str) -> list[QueuedMessage]:
        taken = self._queues.pop((queue, session_id), [])
        queued(queue, -len(taken))
        return taken

    async def take_first(self, queue: QueueName, session_id: str) -> QueuedMessage | None:
        items = self._queues.get((queue, session_id))
        if not items:
            return None
        first = items.pop(0)
        queued(queue, -1)
        self._tidy(queue, session_id)
        return first

    async def put_back(self, queue: QueueName, session_id: str, messages: list[QueuedMessage]) -> None:
        self._queues[(queue, session_id)][:0] = messages
        queued(queue, len(messages))

    def _tidy(self, queue: QueueName, session_id: str) -> None:
        if not self._queues.get((queue, session_id)):
            self._queues.pop((queue, session_id), None)


class SharedSessionQueues:
    """In Redis, shared by the replicas (bus/shared_queues.RedisQueues). The queue-depth gauge
    is not kept here: the messages are no process's own."""

    def __init__(self, redis_queues: Any) -> None:
        self.redis = redis_queues

    async def add(self, queue: QueueName, session_id: str, message: QueuedMessage) -> int:
        position = await self.redis.add(queue, session_id, message.to_dict(), MAX_QUEUED)
        if position < 0:
            raise _full(queue, session_id)
        return position

    async def list(self, queue: QueueName, session_id: str) -> list[QueuedMessage]:
        return [QueuedMessage.from_dict(m) for m in await self.redis.list(queue, session_id)]

    async def has_any(self, session_id: str) -> bool:
        return any([await self.redis.length(q, session_id) for q in QUEUES])

    async def remove(self, queue: QueueName, session_id: str, message_id: str) -> bool:
        return await self.redis.remove(queue, session_id, message_id)

    async def clear(self, queue: QueueName, session_id: str) -> int:
        return len(await self.redis.take_all(queue, session_id))

    async def take_all(self, queue: QueueName, session_id: str) -> list[QueuedMessage]:
        return [QueuedMessage.from_dict(m) for m in await self.redis.take_all(queue, session_id)]

    async def take_first(self, queue: QueueName, session_id: str) -> QueuedMessage | None:
        first = await self.redis.take_first(queue, session_id)
        return QueuedMessage.from_dict(first) if first else None

    async def put_back(self, queue: QueueName, session_id: str, messages: list[QueuedMessage]) -> None:
        await self.redis.put_back(queue, session_id, [m.to_dict() for m in messages])
