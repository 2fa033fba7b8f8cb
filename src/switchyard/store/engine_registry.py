"""One engine per database URL in a process, shared by every user of that URL and closed when
the last one lets go.

Several agents on one Postgres URL and the server's key store on the same URL used to open a
pool each (20 connections apiece); now they hold one `SharedEngine` between them. Sharing is
per event loop: asyncpg connections belong to the loop that made them, so a second loop (a test
thread, a CLI run inside a server process) gets its own engine. In production there is one
loop, so there is one engine per URL.

An in-memory SQLite database is never shared: it exists only inside its engine, and each
`sqlite+aiosqlite://` store has always been a database of its own.

The first user of a URL also brings the schema up to date (schema.py); later users wait for
that to finish, so no one reads a half-migrated database."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from switchyard.errors import StoreError
from switchyard.store import engine as engines


@dataclass(eq=False)
class SharedEngine:
    """The engine of one URL and how many `Database` handles use it."""

    url: str
    key: tuple[str, Any] | None            # its registry key; None when not shared (in memory)
    sync_engine: Engine | None = None      # SQLite
    async_engine: AsyncEngine | None = None  # Postgres
    users: int = 0
    ready: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    async def dispose(self) -> None:
        if self.sync_engine is not None:
            self.sync_engine.dispose()
        if self.async_engine is not None:
            await self.async_engine.dispose()


_shared: dict[tuple[str, Any], SharedEngine] = {}


def open_engines() -> dict[str, int]:
    """URL (password hidden) -> users of its shared engines (all event loops), in this process."""
    users: dict[str, int] = {}
    for shared in _shared.values():
        name = engines.describe(shared.url)
        users[name] = users.get(name, 0) + shared.users
    return users


async def acquire(url: str) -> SharedEngine:
    """The engine of `url`, created (and its schema migrated) by the first caller."""
    if engines.is_in_memory(url):
        shared = SharedEngine(url, None, users=1)
        await _start(shared)
        return shared
    key = (url, asyncio.get_running_loop())
    shared = _shared.get(key)
    if shared is not None:
        shared.users += 1
        try:
            await asyncio.shield(shared.ready)
        except BaseException:
            shared.users -= 1
            raise
        return shared
    shared = _shared[key] = SharedEngine(url, key, users=1)
    try:
        await _start(shared)
    except BaseException as exc:
        _shared.pop(key, None)
        shared.ready.set_exception(exc)
        shared.ready.exception()  # retrieved: a failure nobody else waited for is not "lost"
        raise
    shared.ready.set_result(None)
    return shared


async def release(shared: SharedEngine) -> None:
    """One user fewer; the last one closes the engine."""
    shared.users -= 1
    if shared.users > 0:
        return
    if shared.key is not None and _shared.get(shared.key) is shared:
        del _shared[shared.key]
    await shared.dispose()


async def _start(shared: SharedEngine) -> None:
    from switchyard.store import schema

    try:
        if engines.is_sqlite(shared.url):
            shared.sync_engine = engines.create_sqlite_engine(shared.url)
            schema.upgrade_sqlite(shared.sync_engine, in_memory=engines.is_in_memory(shared.url))
        else:
            shared.async_engine = engines.create_postgres_engine(shared.url)
            await schema.upgrade_postgres(shared.async_engine)
    except BaseException as exc:
        await shared.dispose()
        if isinstance(exc, (StoreError, asyncio.CancelledError)) or not isinstance(exc, Exception):
            raise
        raise StoreError(f"could not open the database {engines.describe(shared.url)}: "
                         f"{type(exc).__name__}: {exc}", code="store_unavailable") from exc
