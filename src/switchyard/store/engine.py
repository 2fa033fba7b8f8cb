"""Where a database is and the engine that reaches it: SQLite (the default, a file under
SWITCHYARD_HOME), SQLite in memory, or Postgres through asyncpg.

SQLite gets a synchronous engine (statements run in the calling thread: a local write in WAL
mode takes microseconds, far less than a hop to a driver thread); Postgres an async one. The
URL keeps the `sqlite+aiosqlite://` spelling agents' configs and SWITCHYARD_DATABASE_URL have
always used. Engines are shared per URL by engine_registry.py; nothing else creates them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.ext.asyncio import AsyncEngine

from switchyard.config.schema import (DatabaseConfig, InMemoryDatabase, PostgresDatabase,
                                      SqliteDatabase)

_IN_MEMORY_URLS = ("sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:", "sqlite://",
                   "sqlite:///:memory:", "sqlite+pysqlite://", "sqlite+pysqlite:///:memory:")

# Postgres: one pool per URL for the whole process (every agent and the key store share it).
POSTGRES_POOL_SIZE = 10
POSTGRES_MAX_OVERFLOW = 10


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


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def is_in_memory(url: str) -> bool:
    return url in _IN_MEMORY_URLS


def describe(url: str) -> str:
    """The URL as it may appear in a message or a log: without its password."""
    from sqlalchemy.engine import make_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL has no password to hide either way
        return "<unparsable database URL>"


def sync_sqlite_url(url: str) -> str:
    """The same SQLite database, for the synchronous pysqlite driver."""
    if url.startswith("sqlite+aiosqlite"):
        return "sqlite+pysqlite" + url[len("sqlite+aiosqlite"):]
    return url


def _switch_to_wal(cursor: Any, patience: float) -> None:
    """PRAGMA journal_mode=WAL, retried while another connection holds the file: switching a
    new file's journal mode needs it to itself, and SQLite answers "database is locked" at once
    rather than waiting (several processes opening one new file at start-up). Once the file is
    in WAL mode the pragma is a read and never waits."""
    import sqlite3
    import time

    deadline = time.monotonic() + patience
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def set_sqlite_pragmas(sync_engine: Any, *, in_memory: bool, busy_timeout_ms: int) -> None:
    @event.listens_for(sync_engine, "connect")
    def _pragmas(dbapi_conn, _record):  # noqa: ANN001 - DB-API objects
        cursor = dbapi_conn.cursor()
        if not in_memory:
            # WAL: readers never block the writer; NORMAL is durable at each commit in WAL.
            _switch_to_wal(cursor, busy_timeout_ms / 1000)
            cursor.execute("PRAGMA synchronous=NORMAL")
        # No memory-mapped I/O of the database file: with it, an I/O error or a file truncated
        # underneath (a full disk, a network filesystem) is a SIGBUS that kills the process
        # instead of an OperationalError one request sees. (WAL's -shm index is still mapped:
        # keep SWITCHYARD_HOME on a local disk; `switchyard serve` reports a SIGBUS on stderr.)
        cursor.execute("PRAGMA mmap_size=0")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()


def create_sqlite_engine(url: str) -> Engine:
    """A synchronous engine: its work runs to completion in the event loop thread, so even the
    one shared connection of an in-memory database never interleaves two transactions."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import StaticPool

    in_memory = is_in_memory(url)
    kwargs: dict[str, Any] = {"poolclass": StaticPool} if in_memory else {"pool_size": 5, "max_overflow": 5}
    engine = create_engine(sync_sqlite_url(url), connect_args={"check_same_thread": False, "timeout": 5},
                           **kwargs)
    # A short busy timeout: this connection waits in the event loop thread.
    set_sqlite_pragmas(engine, in_memory=in_memory, busy_timeout_ms=5_000)
    return engine


def create_postgres_engine(url: str) -> AsyncEngine:
    from sqlalchemy.ext.asyncio import create_async_engine
    return create_async_engine(url, pool_size=POSTGRES_POOL_SIZE, max_overflow=POSTGRES_MAX_OVERFLOW,
                               pool_pre_ping=True)
