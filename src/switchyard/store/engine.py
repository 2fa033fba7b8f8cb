"""Open the database a Store runs on: SQLite (the default, a file under SWITCHYARD_HOME),
SQLite in memory, or Postgres through asyncpg, all through one SQLAlchemy async engine."""

from __future__ import annotations

import os
from pathlib import Path

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


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        in_memory = url in ("sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:")
        # An in-memory database lives in one connection: keep exactly one, and let each
        # transaction check it out alone (a shared StaticPool connection would interleave
        # concurrent transactions and lose writes).
        kwargs = {"poolclass": AsyncAdaptedQueuePool, "pool_size": 1, "max_overflow": 0,
                  "pool_timeout": 60} if in_memory else {}
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001 - DB-API objects
            cursor = dbapi_conn.cursor()
            if not in_memory:
                # WAL: readers never block the writer; NORMAL is durable at each commit in WAL.
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
