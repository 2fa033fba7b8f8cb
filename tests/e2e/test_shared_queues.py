"""The Redis-held steer and follow-up queues of replicas (bus/shared_queues.py through
runtime/queues.SharedSessionQueues), on a real Redis: two replicas' views of one queue, the
cap, removal by id, putting a taken message back at the head, and the set of sessions with
queued input."""

from __future__ import annotations

import uuid

import pytest

from switchyard.bus.shared import SharedState
from switchyard.bus.shared_queues import RedisQueues
from switchyard.errors import LimitError
from switchyard.runtime.queues import MAX_QUEUED, QueuedMessage, SharedSessionQueues
from tests.conftest import redis_url

pytestmark = pytest.mark.skipif(not redis_url(), reason="SWITCHYARD_TEST_REDIS_URL is not set (Redis not available)")


@pytest.fixture
async def two_replicas():
    prefix = f"sytest-{uuid.uuid4().hex[:8]}"
    states = [SharedState(redis_url(), prefix=prefix) for _ in range(2)]
    yield [SharedSessionQueues(RedisQueues(state, "agent")) for state in states]
    for state in states:
        await state.close()


def _text(text: str) -> QueuedMessage:
    return QueuedMessage([{"type": "text", "text": text}], metadata={"from": "test"})


async def test_one_queue_seen_alike_by_two_replicas(two_replicas):
    a, b = two_replicas
    first, second, third = _text("one"), _text("two"), _text("three")
    assert [await a.add("follow-up", "s1", first), await b.add("follow-up", "s1", second),
            await a.add("follow-up", "s1", third)] == [1, 2, 3]
    listed = await b.list("follow-up", "s1")
    assert [m.to_dict() for m in listed] == [m.to_dict() for m in (first, second, third)]
    assert await a.list("steer", "s1") == [] and await a.has_any("s1") and not await a.has_any("s2")
    assert await b.remove("follow-up", "s1", second.id) and not await a.remove("follow-up", "s1", second.id)
    taken = await a.take_first("follow-up", "s1")
    assert taken is not None and taken.id == first.id
    assert await b.take_first("follow-up", "s1") is not None and await a.take_first("follow-up", "s1") is None


async def test_a_message_taken_for_a_turn_that_could_not_start_goes_back_first(two_replicas):
    a, b = two_replicas
    messages = [_text(t) for t in ("x", "y", "z")]
    for message in messages:
        await a.add("steer", "s1", message)
    taken = await a.take_all("steer", "s1")
    await a.add("steer", "s1", _text("later"))
    await b.put_back("steer", "s1", taken)
    assert [m.content[0]["text"] for m in await a.list("steer", "s1")] == ["x", "y", "z", "later"]
    assert await b.clear("steer", "s1") == 4


async def test_the_cap_and_the_sessions_with_queued_input(two_replicas):
    a, b = two_replicas
    for i in range(MAX_QUEUED):
        await (a if i % 2 else b).add("steer", "full", _text(str(i)))
    with pytest.raises(LimitError) as refused:
        await a.add("steer", "full", _text("one too many"))
    assert refused.value.code == "queue_full" and refused.value.status == 429
    index = a.redis
    assert await index.waiting_sessions() == ["full"]
    assert not await index.tidy("full")          # still queued: kept
    await b.clear("steer", "full")
    assert await index.tidy("full") and await index.waiting_sessions() == []


async def test_redis_unreachable_is_a_clear_503():
    state = SharedState("redis://127.0.0.1:1/0", prefix="unreachable")
    queues = SharedSessionQueues(RedisQueues(state, "agent"))
    try:
        with pytest.raises(Exception) as failed:
            await queues.list("steer", "s1")
        assert getattr(failed.value, "code", None) == "shared_state_unavailable"
        assert getattr(failed.value, "status", None) == 503
    finally:
        await state.close()
