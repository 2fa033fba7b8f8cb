"""Publish/subscribe of run events, per session: in-process by default, Redis for replicas."""

from __future__ import annotations

from typing import AsyncIterator, Protocol

from switchyard.events import Event


class Bus(Protocol):
    async def publish(self, event: Event) -> None: ...

    def subscribe(self, session_id: str) -> AsyncIterator[Event]: ...

    async def close(self) -> None: ...


def create_bus(redis_url: str | None = None) -> Bus:
    if redis_url:
        from switchyard.bus.redis_bus import RedisBus
        return RedisBus(redis_url)
    from switchyard.bus.memory import MemoryBus
    return MemoryBus()
