"""Memories, full-text search and the context start, in the store, on SQLite (a file and in
memory) and Postgres (when SWITCHYARD_TEST_POSTGRES_URL is set). Each test uses an agent id of
its own, so runs sharing a Postgres database do not see each other's rows."""

from __future__ import annotations

import uuid

import pytest

from switchyard.errors import NotFoundError, RequestError
from switchyard.store import Store
from switchyard.store.memories import ALL
from tests.support.stores import agent, store  # noqa: F401 - fixtures


def msg(role: str, content: object) -> dict:
    return {"id": str(uuid.uuid4()), "role": role, "content": content}


async def test_memories_are_filtered_by_owner_tags_source_and_pinned(store, agent):
    memories = store.memories
    a = await memories.create(agent, "alice", "tea, green", tags=["food", "food", "drink"], metadata={"source": "user"})
    b = await memories.create(agent, "alice", "lives in Porto", metadata={"pinned": True, "extra": [1, 2]})
    c = await memories.create(agent, "bob", "bob's note", tags=["food"])
    d = await memories.create(agent, None, "no-auth note")
    assert a["tags"] == ["food", "drink"] and b["metadata"] == {"pinned": True, "extra": [1, 2]}
    assert [m["id"] for m in await memories.list(agent, "alice")] == [b["id"], a["id"]]
    assert [m["id"] for m in await memories.list(agent, None)] == [d["id"]]
    assert [m["id"] for m in await memories.list(agent, ALL)] == [d["id"], c["id"], b["id"], a["id"]]
    assert [m["id"] for m in await memories.list(agent, ALL, tags=["food"])] == [c["id"], a["id"]]
    assert [m["id"] for m in await memories.list(agent, "alice", tags=["drink", "x"])] == [a["id"]]
    assert [m["id"] for m in await memories.list(agent, ALL, source="user")] == [a["id"]]
    assert [m["id"] for m in await memories.list(agent, ALL, pinned=True)] == [b["id"]]
    assert [m["id"] for m in await memories.list(agent, ALL, limit=2, offset=1)] == [c["id"], b["id"]]
    assert await memories.list(f"{agent}-other", ALL) == []
    with pytest.raises(NotFoundError):
        await memories.get(agent, "bob", a["id"])
    with pytest.raises(NotFoundError):
        await memories.update(agent, "bob", a["id"], content="mine")
    with pytest.raises(NotFoundError):
        await memories.delete(agent, None, a["id"])
    changed = await memories.update(agent, ALL, a["id"], tags=["x"], metadata={"pinned": True})
    assert changed["tags"] == ["x"] and changed["metadata"] == {"source": "user", "pinned": True}
    assert [m["id"] for m in await memories.list(agent, "alice")] == [a["id"], b["id"]]
    await memories.delete(agent, "alice", a["id"])
    assert await memories.list(agent, ALL, tags=["x"]) == [] and await memories.count(agent, ALL) == 3


async def _conversation(store: Store, agent: str, sid: str, owner: str | None, *messages: dict) -> None:
    await store.sessions.create(agent, sid, owner=owner)
    await store.sessions.append(agent, sid, list(messages))


async def test_search_ranks_stems_highlights_and_filters(store, agent):
    await _conversation(store, agent, "s1", "alice",
                        msg("user", "We are deploying the new billing service today"),
                        msg("assistant", [{"type": "text", "text": "Billing was deployed fine"},
                                          {"type": "image", "image": "billing-secret-base64"}]),
                        msg("user", "billing billing billing: the billing report"))
    await _conversation(store, agent, "s2", "bob", msg("user", "bob's billing <script>alert(1)</script>"))
    search = store.search

    hits, total = await search.messages(agent, ALL, "billing")
    assert total == 4 and hits[0]["message"]["content"].startswith("billing billing")   # most frequent first
    assert hits[0]["matchedText"] == "billing" and "<mark>billing</mark>" in hits[0]["snippet"]
    assert hits[0]["messageIndex"] == 2 and hits[0]["sessionId"] == "s1"
    script = next(h for h in hits if h["sessionId"] == "s2")
    assert "<script>" not in script["snippet"] and "alert(1)" in script["snippet"]
    if store.backend == "sqlite":   # Postgres' ts_headline drops tags from excerpts altogether
        assert "&lt;script&gt;" in script["snippet"] and "<script>" in script["context"]
    assert OPEN_CLOSE_FREE(script["context"])

    stemmed, _ = await search.messages(agent, ALL, "deploy")      # deploying, deployed
    assert {h["message"]["role"] for h in stemmed} == {"user", "assistant"}
    assert (await search.messages(agent, ALL, "secret"))[1] == 0      # only text parts are indexed
    assert (await search.messages(agent, ALL, "billing report"))[1] == 1   # every word must occur
    assert (await search.messages(agent, "bob", "billing"))[1] == 1
    assert (await search.messages(agent, None, "billing"))[1] == 0
    assert (await search.messages(agent, ALL, "billing", role="assistant"))[1] == 1
    assert (await search.messages(agent, ALL, "billing", session_id="s2"))[1] == 1
    page, total = await search.messages(agent, ALL, "billing", limit=2, offset=3)
    assert total == 4 and len(page) == 1
    assert (await search.messages(f"{agent}-x", ALL, "billing"))[1] == 0
    with pytest.raises(RequestError):
        await search.messages(agent, ALL, " ?! ")

    sessions, total = await search.sessions(agent, ALL, "billing")
    assert total == 2 and [s["sessionId"] for s in sessions] == ["s1", "s2"]
    assert sessions[0]["matchCount"] == 3 and sessions[0]["firstMatch"]["messageIndex"] == 0
    assert sessions[0]["metadata"]["messageCount"] == 3
    assert [s["sessionId"] for s in (await search.sessions(agent, "bob", "billing"))[0]] == ["s2"]

    # Deleting and clearing sessions takes their messages out of the index.
    await store.sessions.delete(agent, "s2")
    await store.sessions.clear_history(agent, "s1")
    assert (await search.messages(agent, ALL, "billing"))[1] == 0


def OPEN_CLOSE_FREE(text: str) -> bool:  # noqa: N802
    return "\x02" not in text and "\x03" not in text


async def test_the_context_start_keeps_the_history(store, agent):
    sessions = store.sessions
    await _conversation(store, agent, "s", "o", msg("user", "one"), msg("assistant", "two"))
    start = await sessions.start_context(agent, "s")
    assert start == 3 and (await sessions.get(agent, "s"))["contextStartSeq"] == 3
    assert await sessions.context(agent, "s") == []
    await sessions.append(agent, "s", [msg("user", "three"), msg("assistant", "four")])
    assert [m["content"] for m in await sessions.context(agent, "s")] == ["three", "four"]
    assert [m["content"] for m in await sessions.history(agent, "s")] == ["one", "two", "three", "four"]
    hits, _ = await store.search.messages(agent, ALL, "four")
    assert hits[0]["messageIndex"] == 3                  # its place in the history, despite the gap

    fork = await sessions.fork(agent, "s", "f", title="fork", owner="o")
    assert fork["contextStartSeq"] == 2
    assert [m["content"] for m in await sessions.context(agent, "f")] == ["three", "four"]
    # Compaction's use: a summary message, and the context starts at it.
    next_seq = await sessions.append(agent, "s", [msg("system", "summary of one to four")])
    assert await sessions.start_context(agent, "s", at_seq=next_seq - 1) == 5
    assert [m["content"] for m in await sessions.context(agent, "s")] == ["summary of one to four"]
    await sessions.clear_history(agent, "s")
    assert (await sessions.get(agent, "s"))["contextStartSeq"] is None
    await sessions.append(agent, "s", [msg("user", "fresh")])
    assert [m["content"] for m in await sessions.context(agent, "s")] == ["fresh"]
    with pytest.raises(NotFoundError):
        await sessions.start_context(agent, "missing")


def summary(content: str) -> dict:
    return {**msg("system", content), "metadata": {"compaction": {"strategy": "reactive-overflow"}}}


async def test_a_compaction_summary_heads_the_context_and_the_history_keeps_everything(store, agent):
    sessions = store.sessions
    turns = [msg("user", "one"), msg("assistant", "two"), msg("user", "three"), msg("assistant", "four")]
    await _conversation(store, agent, "s", "o", *turns)
    before = await sessions.get(agent, "s")
    first = summary("summary of one and two")
    next_seq = await sessions.compact(agent, "s", first, keep_from_id=turns[2]["id"])
    after = await sessions.get(agent, "s")
    assert after["messageCount"] == before["messageCount"] + 1      # the history's mark moves
    assert [m["content"] for m in await sessions.context(agent, "s")] == [
        "summary of one and two", "three", "four"]
    # A second summary covers the first: the context starts from the newest one only.
    await sessions.append(agent, "s", [msg("user", "five"), msg("assistant", "six")])
    five = (await sessions.history(agent, "s"))[-2]
    assert await sessions.compact(agent, "s", summary("summary of one to four"), keep_from_id=five["id"]) \
        == next_seq + 3                                               # two appended, then the summary
    assert [m["content"] for m in await sessions.context(agent, "s")] == ["summary of one to four", "five", "six"]
    assert [m["content"] for m in await sessions.history(agent, "s")] == [
        "one", "two", "three", "four", "summary of one and two", "five", "six", "summary of one to four"]
    # Nothing kept verbatim: the context is the summary alone.
    await sessions.compact(agent, "s", summary("all of it"), keep_from_id=None)
    assert [m["content"] for m in await sessions.context(agent, "s")] == ["all of it"]
    with pytest.raises(NotFoundError):
        await sessions.compact(agent, "missing", summary("x"), keep_from_id=None)
