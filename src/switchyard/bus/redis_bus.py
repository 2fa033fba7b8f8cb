"""The Redis bus: events cross replicas on one channel per session."""

from __future__ import annotations

import json
from typing import AsyncIterator

from switchyard.runtime.events import Event

CHANNEL_PREFIX = "switchyard:events:"


class RedisBus:
    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url, decode_responses=True)

    async def publish(self, event: Event) -> None:
        payload = json.dumps({"name": event.name, "sessionId": event.session_id,
                              "data": event.data, "ts": event.timestamp})
        await self._redis.publish(CHANNEL_PREFIX + event.session_id, payload)

    async def subscribe(self, session_id: str) -> AsyncIterator[Event]:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(CHANNEL_PREFIX + session_id)
        try:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                raw = json.loads(message["data"])
                yield Event(raw["name"], raw["sessionId"], raw["data"], raw["ts"])
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()

    async def close(self) -> None:
        await self._redis.aclose()
