"""Custom prompts and their stored files in the store, on SQLite (a file and in memory) and
Postgres (when SWITCHYARD_TEST_POSTGRES_URL is set): made, listed with their file's metadata,
refused when the name is taken, deleted with their file; per agent."""

from __future__ import annotations

import asyncio

import pytest

from switchyard.errors import ConflictError, NotFoundError
from tests.support.stores import agent, store  # noqa: F401 - fixtures


async def test_custom_prompts_with_a_file(store, agent):
    prompts = store.prompts
    data = bytes(range(256))
    plain = await prompts.create(agent, {"name": "plain", "content": "hello {{who}}",
                                         "arguments": [{"name": "who", "required": True}]})
    assert plain["name"] == "plain" and plain["arguments"] == [{"name": "who", "required": True}]
    assert "resourceUri" not in plain
    filed = await prompts.create(agent, {"name": "filed", "content": "see file", "title": "Filed"},
                                 resource={"data": data, "mimeType": "image/png", "filename": "a.png"})
    uri = filed["resourceUri"]
    assert uri.startswith("blob:")

    listed = await prompts.list(agent)
    assert [p["name"] for p in listed] == ["plain", "filed"]
    assert listed[1]["resourceMetadata"] == {"mimeType": "image/png", "originalName": "a.png"}
    assert listed[1]["title"] == "Filed" and "resourceMetadata" not in listed[0]
    blob = await prompts.blob(agent, uri)
    assert blob["data"] == data and blob["size"] == 256 and blob["mimeType"] == "image/png"
    assert "data" not in await prompts.blob(agent, uri, with_data=False)
    assert await prompts.blob(f"{agent}-other", uri) is None          # another agent's file
    assert await prompts.list(f"{agent}-other") == []

    with pytest.raises(ConflictError):
        await prompts.create(agent, {"name": "filed", "content": "again"},
                             resource={"data": b"x", "mimeType": "text/plain"})
    assert len(await prompts.list(agent)) == 2                           # nothing half-written

    await prompts.delete(agent, "filed")
    assert await prompts.blob(agent, uri) is None                        # its file went with it
    with pytest.raises(NotFoundError):
        await prompts.delete(agent, "filed")


async def test_two_creates_of_one_name_make_one_prompt(store, agent):
    results = await asyncio.gather(*(store.prompts.create(agent, {"name": "race", "content": str(i)})
                                     for i in range(4)), return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, ConflictError) for r in results if isinstance(r, BaseException))
    assert [p["name"] for p in await store.prompts.list(agent)] == ["race"]


async def test_list_blobs_leaves_out_system_files_and_other_agents(store, agent):
    from sqlalchemy import insert
    from switchyard.store.tables import blobs
    await store.prompts.create(agent, {"name": "filed", "content": "see file"},
                               resource={"data": b"x", "mimeType": "text/plain"})   # a `system` file
    rows = [{"agent_id": agent, "id": "u2", "mime_type": "image/png", "original_name": "shot.png", "size": 3,
             "source": "user", "data": b"abc", "created_at": 2},
            {"agent_id": agent, "id": "u1", "mime_type": "text/plain", "original_name": None, "size": 1,
             "source": "tool", "data": b"z", "created_at": 1},
            {"agent_id": f"{agent}-other", "id": "u3", "mime_type": "text/plain", "original_name": None,
             "size": 1, "source": "user", "data": b"q", "created_at": 1}]
    await store.prompts.db.write(lambda conn: conn.execute(insert(blobs), rows))
    assert await store.prompts.list_blobs(agent) == [
        {"uri": "blob:u1", "mimeType": "text/plain", "size": 1, "source": "tool", "createdAt": 1},
        {"uri": "blob:u2", "mimeType": "image/png", "size": 3, "source": "user", "createdAt": 2,
         "originalName": "shot.png"}]
