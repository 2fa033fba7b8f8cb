"""The Redis bus: events cross replicas on one channel per session (bus/codec.py)."""

from __future__ import annotations

import logging
from typing import AsyncIterator

from switchyard.bus import codec
from switchyard.events import Event

CHANNEL_PREFIX = "switchyard:events:"

log = logging.getLogger("switchyard.bus")


class RedisBus:
    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url, decode_responses=True)

    async def publish(self, event: Event) -> None:
        await self._redis.publish(CHANNEL_PREFIX + event.session_id, codec.dumps(event))

    async def subscribe(self, session_id: str) -> AsyncIterator[Event]:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(CHANNEL_PREFIX + session_id)
        try:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                event = codec.loads_or_skip(message.get("data"))
                if event is not None:
                    yield event
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()

    async def close(self) -> None:
        await self._redis.aclose()
