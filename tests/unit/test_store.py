"""The session store on SQLite (always) and Postgres (when SWITCHYARD_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from switchyard.errors import NotFoundError
from switchyard.store import Store
from tests.support.stores import store  # noqa: F401 - fixture


def msg(role: str, text: str) -> dict:
    return {"id": str(uuid.uuid4()), "role": role, "content": text}


async def test_create_is_idempotent_and_history_keeps_order(store):
    agent = f"a-{uuid.uuid4().hex[:6]}"
    session, created = await store.sessions.create(agent, "s1", owner="k1")
    assert created and session["owner"] == "k1" and session["messageCount"] == 0
    again, created_again = await store.sessions.create(agent, "s1", owner="other")
    assert not created_again and again["owner"] == "k1"

    await store.sessions.append(agent, "s1", [msg("user", "one")], title="one")
    await store.sessions.append(agent, "s1", [msg("assistant", "two"), msg("user", "three")],
                                usage={"inputTokens": 3, "outputTokens": 2, "totalTokens": 5})
    history = await store.sessions.history(agent, "s1")
    assert [m["content"] for m in history] == ["one", "two", "three"]
    session = await store.sessions.get(agent, "s1")
    assert session["messageCount"] == 3 and session["title"] == "one"
    assert session["tokenUsage"]["totalTokens"] == 5


async def test_concurrent_appends_never_collide(store):
    agent = f"a-{uuid.uuid4().hex[:6]}"
    await store.sessions.create(agent, "s", owner=None)
    await asyncio.gather(*(store.sessions.append(agent, "s", [msg("user", str(i))]) for i in range(20)))
    history = await store.sessions.history(agent, "s")
    assert sorted(int(m["content"]) for m in history) == list(range(20))
    assert (await store.sessions.get(agent, "s"))["messageCount"] == 20


async def test_append_to_a_missing_session_writes_nothing(store):
    agent = f"a-{uuid.uuid4().hex[:6]}"
    with pytest.raises(NotFoundError) as caught:
        await store.sessions.append(agent, "ghost", [msg("user", "x")])
    assert caught.value.code == "session_not_found" and "'ghost'" in caught.value.message
    assert await store.sessions.history(agent, "ghost") == []


async def test_fork_copies_history_and_delete_removes_it(store):
    agent = f"a-{uuid.uuid4().hex[:6]}"
    await store.sessions.create(agent, "p", owner="k")
    await store.sessions.append(agent, "p", [msg("user", "hi"), msg("assistant", "hello")])
    child = await store.sessions.fork(agent, "p", "c", title="Fork: p", owner="k")
    assert child["parentSessionId"] == "p" and child["messageCount"] == 2
    await store.sessions.append(agent, "c", [msg("user", "only in child")])
    assert len(await store.sessions.history(agent, "p")) == 2
    assert len(await store.sessions.history(agent, "c")) == 3
    assert await store.sessions.delete(agent, "p")
    assert await store.sessions.get(agent, "p") is None
    assert await store.sessions.history(agent, "p") == []
    assert len(await store.sessions.history(agent, "c")) == 3


async def test_listing_filters_by_owner_and_agent(store):
    agent = f"a-{uuid.uuid4().hex[:6]}"
    await store.sessions.create(agent, "mine", owner="k1")
    await store.sessions.create(agent, "theirs", owner="k2")
    await store.sessions.create(agent + "-other", "elsewhere", owner="k1")
    assert {s["id"] for s in await store.sessions.list(agent)} == {"mine", "theirs"}
    assert [s["id"] for s in await store.sessions.list(agent, owner="k1")] == ["mine"]
    assert await store.sessions.count(agent) == 2


async def test_history_survives_reopening_the_file(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'persist.db'}"
    first = await Store(url).open()
    await first.sessions.create("a", "s", owner=None)
    await first.sessions.append("a", "s", [msg("user", "remember me")])
    await first.close()
    second = await Store(url).open()
    assert [m["content"] for m in await second.sessions.history("a", "s")] == ["remember me"]
    await second.close()


async def test_begin_turn_creates_and_appends_in_one_step(store):
    agent = f"a-{uuid.uuid4().hex[:6]}"
    session, created, seq = await store.sessions.begin_turn(agent, "t", msg("user", "first"), owner="k", title="first")
    assert created and session["messageCount"] == 1 and session["title"] == "first" and session["owner"] == "k"
    assert seq == 1
    session, created, seq = await store.sessions.begin_turn(agent, "t", msg("user", "second"), owner="other", title="second")
    assert not created and session["messageCount"] == 2 and seq == 2
    assert session["title"] == "first" and session["owner"] == "k"  # neither is overwritten
    assert [m["content"] for m in await store.sessions.history(agent, "t")] == ["first", "second"]
    # The sequence only grows: appends move it, a cleared history keeps it.
    assert await store.sessions.append(agent, "t", [msg("assistant", "a"), msg("user", "b")]) == 4
    await store.sessions.clear_history(agent, "t")
    session, _, seq = await store.sessions.begin_turn(agent, "t", msg("user", "again"))
    assert seq == 5 and session["messageCount"] == 1


async def test_an_unanswered_user_message_gets_its_marker_before_the_next_one(store):
    agent = f"a-{uuid.uuid4().hex[:6]}"
    marker = {"id": str(uuid.uuid4()), "role": "assistant", "content": "[lost]", "interrupted": "lost"}
    await store.sessions.begin_turn(agent, "s", msg("user", "one"), unanswered=dict(marker))
    await store.sessions.begin_turn(agent, "done", msg("user", "q"), unanswered=dict(marker))
    await store.sessions.append(agent, "done", [msg("assistant", "a")])
    assert await store.sessions.unanswered(agent) == ["s"]
    session, created, next_seq = await store.sessions.begin_turn(agent, "s", msg("user", "two"),
                                                                 unanswered=dict(marker))
    assert not created and session["messageCount"] == 3 and next_seq == 3
    assert [m["content"] for m in await store.sessions.history(agent, "s")] == ["one", "[lost]", "two"]
    # An answered history gets no marker.
    await store.sessions.begin_turn(agent, "done", msg("user", "q2"), unanswered=dict(marker))
    assert [m["content"] for m in await store.sessions.history(agent, "done")] == ["q", "a", "q2"]


async def test_concurrent_first_writes_of_a_preference_lose_nothing(store):
    agent = f"a-{uuid.uuid4().hex[:6]}"

    def add(item: str):
        return lambda current: sorted([*(current or []), item])
    await asyncio.gather(*(store.preferences.update(agent, "alice", "list", add(f"x{i}")) for i in range(6)))
    assert await store.preferences.get(agent, "alice", "list") == [f"x{i}" for i in range(6)]
    assert await store.preferences.get(agent, "bob", "list") is None


async def test_one_folder_set_as_workspace_twice_at_once_is_one_record(store):
    agent = f"a-{uuid.uuid4().hex[:6]}"
    made = await asyncio.gather(*(store.workspaces.set_active(agent, "/srv/one", None) for _ in range(4)))
    assert len({w["id"] for w in made}) == 1
    assert [w["path"] for w in await store.workspaces.list(agent)] == ["/srv/one"]
    assert (await store.workspaces.active(agent))["id"] == made[0]["id"]
