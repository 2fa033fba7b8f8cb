"""The in-process bus: one bounded queue per subscriber."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import AsyncIterator

from switchyard.events import Event

# A subscriber that falls this far behind is dropped rather than let memory grow.
MAX_BACKLOG = 10_000


class MemoryBus:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[Event | None]]] = defaultdict(set)

    async def publish(self, event: Event) -> None:
        for queue in list(self._subscribers.get(event.session_id, ())):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._subscribers[event.session_id].discard(queue)
                queue.put_nowait(None) if not queue.full() else None

    def subscriber_count(self, session_id: str) -> int:
        return len(self._subscribers.get(session_id, ()))

    async def subscribe(self, session_id: str) -> AsyncIterator[Event]:
        queue: asyncio.Queue[Event | None] = asyncio.Queue(MAX_BACKLOG)
        self._subscribers[session_id].add(queue)
        try:
            while True:
                event = await queue.get()
                if event is None:
                    return
                yield event
        finally:
            subs = self._subscribers.get(session_id)
            if subs is not None:
                subs.discard(queue)
                if not subs:
                    self._subscribers.pop(session_id, None)

    async def close(self) -> None:
        for subs in self._subscribers.values():
            for queue in subs:
                if not queue.full():
                    queue.put_nowait(None)
        self._subscribers.clear()
