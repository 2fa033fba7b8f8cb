"""Several replicas over Postgres and Redis (run when the services are configured)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from switchyard.bus.redis_bus import RedisBus
from switchyard.config import parse_agent
from switchyard.runtime.agent import Agent
from switchyard.events import ChunkEvent, Event, RunCompleteEvent
from tests.conftest import postgres_url, redis_url


def replica(agent_id: str) -> Agent:
    config = {"agentId": agent_id, "llm": {"provider": "echo"},
              "storage": {"database": {"type": "postgres", "url": postgres_url()}}}
    return Agent(parse_agent(config, env={}))


@pytest.mark.skipif(not postgres_url(), reason="SWITCHYARD_TEST_POSTGRES_URL is not set (Postgres not available)")
async def test_two_replicas_share_sessions_through_postgres():
    agent_id = f"replica-{uuid.uuid4().hex[:8]}"
    a, b = await replica(agent_id).start(), await replica(agent_id).start()
    try:
        await a.generate("shared", "from replica a")
        await b.generate("shared", "from replica b")
        history = await a.history("shared")
        assert [m["content"] for m in history] == ["from replica a", "Echo: from replica a",
                                                   "from replica b", "Echo: from replica b"]
        # Concurrent turns on different replicas never collide in the message order.
        await asyncio.gather(*(r.generate(f"s{i}", "x") for i, r in enumerate([a, b] * 5)))
        assert (await b.get_session("s3"))["messageCount"] == 2
    finally:
        await a.stop()
        await b.stop()


@pytest.mark.skipif(not redis_url(), reason="SWITCHYARD_TEST_REDIS_URL is not set (Redis not available)")
async def test_redis_bus_carries_events_between_replicas():
    sender, receiver = RedisBus(redis_url()), RedisBus(redis_url())
    session = f"bus-{uuid.uuid4().hex[:8]}"
    received: list[Event] = []

    async def listen() -> None:
        async for event in receiver.subscribe(session):
            received.append(event)
            if event.name == "run:complete":
                return

    task = asyncio.create_task(listen())
    await asyncio.sleep(0.2)  # let the subscription reach Redis
    sent = [ChunkEvent(session, "text", "hi"), RunCompleteEvent(session, "stop", 1, 12)]
    for event in sent:
        await sender.publish(event)
    await asyncio.wait_for(task, 5)
    assert received == sent  # the same typed events, timestamps included
    await sender.close()
    await receiver.close()
