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


# --- the shared state of replicas (bus/shared.py), two processes' worth in one -------------------

def _pair_of_states(ttl: float = 1.0) -> tuple["SharedState", "SharedState"]:
    from switchyard.bus.shared import SharedState
    prefix = f"sytest-{uuid.uuid4().hex[:8]}"
    return (SharedState(redis_url(), prefix=prefix, lease_ttl=ttl),
            SharedState(redis_url(), prefix=prefix, lease_ttl=ttl))


@pytest.mark.skipif(not redis_url(), reason="SWITCHYARD_TEST_REDIS_URL is not set (Redis not available)")
async def test_a_session_lease_is_exclusive_renewed_and_taken_over_only_after_it_expires():
    a, b = _pair_of_states()
    try:
        token = await a.acquire_lease("agent", "s1", "run-1")
        assert token is not None and await b.acquire_lease("agent", "s1", "run-x") is None
        # A's next turn on the same session takes over A's own lease (its local lock ordered them).
        token2 = await a.acquire_lease("agent", "s1", "run-2")
        assert token2 is not None and await b.running_run("agent", "s1") == "run-2"
        await a.release_lease("agent", "s1", token)          # the earlier turn's late release: no effect
        assert await b.running_run("agent", "s1") == "run-2"
        await asyncio.sleep(1.5)                               # longer than the TTL: the heartbeat renewed it
        assert await b.acquire_lease("agent", "s1", "run-x") is None
        a._heartbeat.cancel()                                  # A "dies": nobody renews
        a._leases.clear()
        await asyncio.sleep(1.3)
        taken = await b.acquire_lease("agent", "s1", "run-3")
        assert taken is not None and await a.running_run("agent", "s1") == "run-3"
    finally:
        await a.close()
        await b.close()


@pytest.mark.skipif(not redis_url(), reason="SWITCHYARD_TEST_REDIS_URL is not set (Redis not available)")
async def test_following_a_run_elsewhere_replays_it_and_ends_with_it_or_with_its_lease():
    a, b = _pair_of_states()
    try:
        token = await a.acquire_lease("agent", "s2", "run-1")
        first = [ChunkEvent("s2", "text", "hel"), ChunkEvent("s2", "text", "lo")]
        await a.append("agent", "s2", "run-1", first)
        seen: list[Event] = []

        async def follow() -> None:
            async for event in b.follow("agent", "s2", "run-1", poll=0.2):
                seen.append(event)
        reader = asyncio.create_task(follow())
        for _ in range(200):
            if len(seen) >= len(first):
                break
            await asyncio.sleep(0.05)
        assert seen == first                                   # the turn so far
        end = RunCompleteEvent("s2", "stop", 1, 12)
        await a.finish("agent", "s2", "run-1", end, token)
        await asyncio.wait_for(reader, 5)
        assert seen == [*first, end] and await b.running_run("agent", "s2") is None
        # A run whose replica died (its lease gone, no run:complete) ends the reader too.
        await a.acquire_lease("agent", "s3", "run-9")
        partial = ChunkEvent("s3", "text", "cut")
        await a.append("agent", "s3", "run-9", [partial])
        a._heartbeat.cancel()
        a._leases.clear()
        cut = [event async for event in b.follow("agent", "s3", "run-9", poll=0.2)]
        assert cut == [partial]
    finally:
        await a.close()
        await b.close()


@pytest.mark.skipif(not redis_url(), reason="SWITCHYARD_TEST_REDIS_URL is not set (Redis not available)")
async def test_the_run_quota_counts_every_replica_and_forgets_a_dead_ones_runs():
    a, b = _pair_of_states()
    try:
        held = [await a.take_slot("key", 2), await b.take_slot("key", 2)]
        assert all(held) and await a.take_slot("key", 2) is None and await b.take_slot("key", 2) is None
        await b.release_slot("key", held[1])
        assert await a.take_slot("key", 2) is not None        # B's place is free again
        a._heartbeat.cancel()                                  # A "dies" holding two slots
        a._slots.clear()
        await asyncio.sleep(1.3)
        assert await b.take_slot("key", 2) is not None and await b.take_slot("key", 2) is not None
    finally:
        await a.close()
        await b.close()
