"""A private Postgres database for one test run.

Every run (a developer's, CI's, several at once on one machine) gets a database of its own,
created on the server SWITCHYARD_TEST_POSTGRES_URL names and dropped at the end, so that no run
sees tables or a schema revision another run left behind (a branch's newer migration, say)."""

from __future__ import annotations

import asyncio
import os
import uuid
from urllib.parse import urlsplit, urlunsplit

ENV = "SWITCHYARD_TEST_POSTGRES_URL"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def create_private_database(base_url: str) -> str:
    """Create an empty database beside the one `base_url` names; return its URL."""
    name = f"switchyard_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(base_url, f'CREATE DATABASE "{name}"'))
    return _with_database(base_url, name)


def drop_database(url: str, base_url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    asyncio.run(_admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
