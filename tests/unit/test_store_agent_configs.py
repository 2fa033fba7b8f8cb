"""The journal of agent configuration changes (store/agent_configs.py) on SQLite (workers of
one machine sharing server.db) and Postgres (replicas): versions in order, reading from a
version on, and the texts the journal has seen of one agent."""

from __future__ import annotations

import uuid

import pytest

from switchyard.store import agent_configs as journal
from switchyard.store.database import Database
from tests.support.stores import store_url


@pytest.fixture(params=["sqlite-file", "postgres"])
async def db(request, tmp_path):
    database = await Database(store_url(request.param, tmp_path, "server.db")).open()
    yield database
    await database.close()


async def test_changes_are_versioned_in_order_and_read_from_a_version_on(db):
    agent = f"agent-{uuid.uuid4().hex[:8]}"
    start = await db.read(journal.latest)
    one = await db.write(lambda c: journal.append(c, agent_id=agent, action="config", replica="r1",
                                                  text="systemPrompt: one\n", replaced_sha=journal.text_sha("old")))
    two = await db.write(lambda c: journal.append(c, agent_id=agent, action="switch", replica="r2"))
    assert start < one < two and await db.read(journal.latest) == two
    rows = await db.read(journal.since, start)
    mine = [r for r in rows if r["agent_id"] == agent]
    assert [(r["seq"], r["action"], r["replica"]) for r in mine] == [(one, "config", "r1"), (two, "switch", "r2")]
    assert mine[0]["text"] == "systemPrompt: one\n" and mine[0]["sha"] == journal.text_sha("systemPrompt: one\n")
    assert mine[1]["text"] is None and mine[1]["sha"] is None
    assert [r["seq"] for r in await db.read(journal.since, one) if r["agent_id"] == agent] == [two]
    assert await db.read(journal.known_shas, agent) == {journal.text_sha("systemPrompt: one\n"),
                                                        journal.text_sha("old")}
    with pytest.raises(ValueError):
        await db.write(lambda c: journal.append(c, agent_id=agent, action="rename", replica="r1"))
