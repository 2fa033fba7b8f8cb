"""Open the database a Store runs on: SQLite (the default, a file under SWITCHYARD_HOME),
SQLite in memory, or Postgres through asyncpg, all through one SQLAlchemy async engine."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from switchyard.config.schema import (DatabaseConfig, InMemoryDatabase, PostgresDatabase,
                                      SqliteDatabase)


def switchyard_home() -> Path:
    return Path(os.environ.get("SWITCHYARD_HOME") or Path.home() / ".switchyard")


def database_url(config: DatabaseConfig | None, agent_id: str) -> str:
    """The SQLAlchemy URL for an agent's storage.database section."""
    if isinstance(config, InMemoryDatabase):
        return "sqlite+aiosqlite://"
    if isinstance(config, PostgresDatabase):
        return postgres_async_url(config.dsn())
    if isinstance(config, SqliteDatabase) and config.path:
        path = Path(config.path).expanduser()
        if path.suffix == "" or path.is_dir():  # the reference's path is a folder
            path = path / (config.database or f"{agent_id}.db")
    else:
        name = (config.database if isinstance(config, SqliteDatabase) and config.database
                else f"{agent_id}.db")
        path = switchyard_home() / "data" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{path}"


def postgres_async_url(dsn: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if dsn.startswith(prefix):
            return "postgresql+asyncpg://" + dsn[len(prefix):]
    return dsn


def set_sqlite_pragmas(sync_engine: Any, *, in_memory: bool, busy_timeout_ms: int) -> None:
    @event.listens_for(sync_engine, "connect")
    def _pragmas(dbapi_conn, _record):  # noqa: ANN001 - DB-API objects
        cursor = dbapi_conn.cursor()
        if not in_memory:
            # WAL: readers never block the writer; NORMAL is durable at each commit in WAL.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        in_memory = url in ("sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:")
        # An in-memory database lives in one connection: keep exactly one, and let each
        # transaction check it out alone (a shared StaticPool connection would interleave
        # concurrent transactions and lose writes).
        kwargs = {"poolclass": AsyncAdaptedQueuePool, "pool_size": 1, "max_overflow": 0,
                  "pool_timeout": 60} if in_memory else {}
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        set_sqlite_pragmas(engine.sync_engine, in_memory=in_memory, busy_timeout_ms=30_000)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def _sync_sqlite_url(url: str) -> str:
    return url.replace("sqlite+aiosqlite", "sqlite+pysqlite", 1)


class Database:
    """Runs data-access functions written once, synchronously, against a SQLAlchemy
    Connection: SQLite directly in the calling thread (a local write in WAL mode takes
    microseconds, far less than a hop to a driver thread), Postgres through asyncpg with
    `run_sync`. One code path of SQL for both."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine as create_sync_engine
        from sqlalchemy.pool import StaticPool

        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.sync_engine = None
        self.async_engine: AsyncEngine | None = None
        if self.is_sqlite:
            in_memory = url in ("sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:", "sqlite://")
            kwargs: dict = {"poolclass": StaticPool} if in_memory else {"pool_size": 5, "max_overflow": 5}
            # Work runs to completion synchronously in the event loop thread, so even the one
            # shared connection of an in-memory database never interleaves two transactions.
            self.sync_engine = create_sync_engine(_sync_sqlite_url(url) if url != "sqlite://" else url,
                                                  connect_args={"check_same_thread": False, "timeout": 5},
                                                  **kwargs)
            # A short busy timeout: this connection waits in the event loop thread.
            set_sqlite_pragmas(self.sync_engine, in_memory=in_memory, busy_timeout_ms=5_000)
        else:
            self.async_engine = create_engine(url)

    async def write(self, fn, *args):  # noqa: ANN001, ANN201 - fn(conn, *args) -> T
        """Run fn in one transaction."""
        if self.sync_engine is not None:
            with self.sync_engine.begin() as conn:
                return fn(conn, *args)
        assert self.async_engine is not None
        async with self.async_engine.begin() as conn:
            return await conn.run_sync(fn, *args)

    read = write  # reads are transactions too: a consistent snapshot

    async def create_all(self, metadata) -> None:  # noqa: ANN001
        await self.write(lambda conn: metadata.create_all(conn))

    async def dispose(self) -> None:
        if self.sync_engine is not None:
            self.sync_engine.dispose()
        if self.async_engine is not None:
            await self.async_engine.dispose()
