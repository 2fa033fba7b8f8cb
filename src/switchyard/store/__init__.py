"""Persistence behind one interface (SQLAlchemy Core): SQLite, in-memory, Postgres."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from switchyard.store.engine import create_engine, database_url
from switchyard.store.sessions import SessionStore
from switchyard.store.tables import metadata


class Store:
    """One database: the session store, and the engine other stores (keys, audit) share."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = create_engine(url)
        self.sessions = SessionStore(self.engine)

    async def open(self) -> "Store":
        async with self.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        return self

    async def close(self) -> None:
        await self.engine.dispose()

    @property
    def backend(self) -> str:
        return "postgres" if self.url.startswith("postgresql") else "sqlite"


__all__ = ["Store", "SessionStore", "database_url"]
