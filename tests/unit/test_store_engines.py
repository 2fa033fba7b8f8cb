"""One engine per database URL: stores and the key store on one URL share it, the last one to
close disposes of it, an in-memory database stays private, and failures are StoreErrors."""

from __future__ import annotations

import asyncio

import pytest

from switchyard.errors import StoreError
from switchyard.server.security.keys import ApiKeyStore
from switchyard.store import Store
from switchyard.store import engine_registry
from switchyard.store.database import Database
from switchyard.store.engine import describe, postgres_async_url
from tests.conftest import postgres_url


@pytest.fixture(params=["sqlite-file", "postgres"])
def shared_url(request, tmp_path) -> str:
    if request.param == "sqlite-file":
        return f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    if not postgres_url():
        pytest.skip("SWITCHYARD_TEST_POSTGRES_URL is not set (Postgres not available)")
    return postgres_async_url(postgres_url())


def engine_of(db: Database):  # noqa: ANN201
    return db.sync_engine if db.sync_engine is not None else db.async_engine


async def test_agents_and_the_key_store_on_one_url_share_one_engine(shared_url):
    first, second = await Store(shared_url).open(), await Store(shared_url).open()
    server_db = await Database(shared_url).open()
    try:
        assert engine_of(first.db) is engine_of(second.db) is engine_of(server_db)
        assert engine_registry.open_engines()[describe(shared_url)] == 3
        # Each user works through it as before.
        await first.sessions.create("agent-1", "s", owner=None)
        assert await second.sessions.get("agent-1", "s") is not None
        assert isinstance(await ApiKeyStore(server_db).list(), list)
    finally:
        await first.close()
        assert engine_registry.open_engines()[describe(shared_url)] == 2
        await second.close()
        await server_db.close()
    assert describe(shared_url) not in engine_registry.open_engines()


async def test_concurrent_opens_create_one_engine(shared_url):
    databases = await asyncio.gather(*(Database(shared_url).open() for _ in range(5)))
    try:
        assert len({id(engine_of(db)) for db in databases}) == 1
        assert engine_registry.open_engines()[describe(shared_url)] == 5
    finally:
        for db in databases:
            await db.close()
    assert describe(shared_url) not in engine_registry.open_engines()


async def test_a_reopened_url_gets_a_new_engine(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'again.db'}"
    db = await Database(url).open()
    first = db.sync_engine
    await db.close()
    await db.close()  # closing twice is harmless
    await db.open()
    try:
        assert db.sync_engine is not None and db.sync_engine is not first
    finally:
        await db.close()


async def test_in_memory_databases_are_never_shared():
    one, two = await Store("sqlite+aiosqlite://").open(), await Store("sqlite+aiosqlite://").open()
    try:
        assert one.db.sync_engine is not two.db.sync_engine
        await one.sessions.create("a", "only-in-one", owner=None)
        assert await two.sessions.get("a", "only-in-one") is None
    finally:
        await one.close()
        await two.close()


async def test_a_closed_database_says_so():
    db = Database("sqlite+aiosqlite://")
    with pytest.raises(StoreError) as caught:
        await db.write(lambda conn: None)
    assert caught.value.code == "store_not_open" and "not open" in caught.value.message


async def test_an_unreachable_database_is_a_store_error_without_the_password():
    url = "postgresql+asyncpg://someone:hunter2-secret@127.0.0.1:1/nowhere"
    with pytest.raises(StoreError) as caught:
        await Database(url).open()
    assert caught.value.code == "store_unavailable"
    assert "127.0.0.1:1/nowhere" in caught.value.message and "hunter2" not in caught.value.message
    assert describe(url) not in engine_registry.open_engines()
