"""The steer and follow-up queues of an agent's sessions (POST /api/steer|follow-up/{id}).

- steer: guidance for the running turn, injected as a user message at its next step
  (runtime/turn.py takes them between steps); what is left when the turn ends runs as the
  next turn, like a follow-up.
- follow-up: a message that runs as a turn of its own once the session is free, in order.

Held in the memory of the process that runs the session's turns: a restart drops queued
messages that had not started (a started follow-up is an ordinary turn, stored as such).
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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "content": self.content, "queuedAt": self.queued_at}
        if self.metadata is not None:
            out["metadata"] = self.metadata
        out["kind"] = self.kind
        return out


class SessionQueues:
    def __init__(self) -> None:
        self._queues: dict[tuple[str, str], list[QueuedMessage]] = defaultdict(list)

    def add(self, queue: QueueName, session_id: str, message: QueuedMessage) -> int:
        """Queue `message`; its 1-based position. LimitError past MAX_QUEUED."""
        items = self._queues[(queue, session_id)]
        if len(items) >= MAX_QUEUED:
            from switchyard.errors import LimitError
            raise LimitError(f"the {queue} queue of session {session_id} is full ({MAX_QUEUED} messages)",
                             code="queue_full", status=429)
        items.append(message)
        queued(queue, 1)
        return len(items)

    def list(self, queue: QueueName, session_id: str) -> list[QueuedMessage]:
        return list(self._queues.get((queue, session_id), ()))

    def remove(self, queue: QueueName, session_id: str, message_id: str) -> bool:
        items = self._queues.get((queue, session_id), [])
        for i, item in enumerate(items):
            if item.id == message_id:
                del items[i]
                queued(queue, -1)
                self._tidy(queue, session_id)
                return True
        return False

    def clear(self, queue: QueueName, session_id: str) -> int:
        return len(self.take_all(queue, session_id))

    def take_all(self, queue: QueueName, session_id: str) -> list[QueuedMessage]:
        taken = self._queues.pop((queue, session_id), [])
        queued(queue, -len(taken))
        return taken

    def take_first(self, queue: QueueName, session_id: str) -> QueuedMessage | None:
        items = self._queues.get((queue, session_id))
        if not items:
            return None
        first = items.pop(0)
        queued(queue, -1)
        self._tidy(queue, session_id)
        return first

    def _tidy(self, queue: QueueName, session_id: str) -> None:
        if not self._queues.get((queue, session_id)):
            self._queues.pop((queue, session_id), None)
