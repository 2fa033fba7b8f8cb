"""A key revoked by another process stops working once this process's verification cache
entry expires (KEY_CACHE_SECONDS, under a second) and not before it is read again: checked
against a real SQLite file with two key stores (two processes) and a controlled clock, so
that the guarantee is tested without timing anything."""

from __future__ import annotations

from switchyard.server.security import keys
from switchyard.server.security.keys import ApiKeyStore
from switchyard.server.security.settings import KEY_CACHE_SECONDS
from switchyard.store.database import Database


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_revocation_elsewhere_is_seen_when_the_cache_entry_expires(tmp_path, monkeypatch):
    assert KEY_CACHE_SECONDS < 1.0          # the documented promise: refused within a second
    clock = Clock()
    monkeypatch.setattr(keys.time, "monotonic", clock)
    url = f"sqlite+aiosqlite:///{tmp_path / 'server.db'}"
    server_db, cli_db = await Database(url).open(), await Database(url).open()
    try:
        server, cli = ApiKeyStore(server_db), ApiKeyStore(cli_db)
        secret, _ = await cli.create("bot", ["chat"])
        assert (await server.verify(secret)).ok          # read, and cached
        await cli.revoke("bot")                          # "another process": the server's cache is not told
        clock.now += KEY_CACHE_SECONDS * 0.9
        assert (await server.verify(secret)).ok          # still the cached answer
        clock.now += KEY_CACHE_SECONDS * 0.2             # past the entry's lifetime
        assert (await server.verify(secret)).reason == "revoked"
        assert (await cli.verify(secret)).reason == "revoked"
    finally:
        await server_db.close()
        await cli_db.close()


async def test_the_cache_never_outlives_its_ceiling(tmp_path):
    db = await Database(f"sqlite+aiosqlite:///{tmp_path / 'server.db'}").open()
    try:
        assert ApiKeyStore(db, cache_seconds=60).cache_seconds == KEY_CACHE_SECONDS
    finally:
        await db.close()
