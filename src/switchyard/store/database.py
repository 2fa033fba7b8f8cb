"""`Database`: one user's handle on the shared engine of a URL, and the one way every store
(sessions, API keys, the audit log) runs its SQL.

Data-access functions are written once, synchronously, against a SQLAlchemy Connection, and
`write`/`read` run each in one transaction: for SQLite directly in the calling thread (a local
write in WAL mode takes microseconds, far less than a hop to a driver thread), for Postgres
through asyncpg with `run_sync`. One code path of SQL for both backends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from switchyard.errors import StoreError
from switchyard.store import engine_registry
from switchyard.store.engine import describe, is_sqlite

T = TypeVar("T")


class Database:
    """Open it before use (`await Database(url).open()`) and close it when done; handles on
    one URL share one engine, closed with the last handle. The schema is brought up to date
    when the first handle opens (store/schema.py)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = is_sqlite(url)
        # Set while open; `write` tests these directly (the hot path of every turn).
        self.sync_engine: Engine | None = None
        self.async_engine: AsyncEngine | None = None
        self._shared: engine_registry.SharedEngine | None = None

    async def open(self) -> Database:
        if self._shared is None:
            shared = await engine_registry.acquire(self.url)
            self._shared = shared
            self.sync_engine, self.async_engine = shared.sync_engine, shared.async_engine
        return self

    async def close(self) -> None:
        if self._shared is not None:
            shared, self._shared = self._shared, None
            self.sync_engine = self.async_engine = None
            await engine_registry.release(shared)

    @property
    def is_open(self) -> bool:
        return self._shared is not None

    @property
    def backend(self) -> str:
        return "sqlite" if self.is_sqlite else "postgres"

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(conn, *args) in one transaction and return its result."""
        if self.sync_engine is not None:
            with self.sync_engine.begin() as conn:
                return fn(conn, *args)
        if self.async_engine is not None:
            async with self.async_engine.begin() as conn:
                return await conn.run_sync(fn, *args)
        raise StoreError(f"the database {describe(self.url)} is not open", code="store_not_open")

    # Reads are transactions too (a consistent snapshot); an alias, not a wrapper: no extra
    # await on the hot path.
    read = write
