"""Persistence behind one interface (SQLAlchemy Core): SQLite, in-memory, Postgres."""

from __future__ import annotations

from switchyard.store.engine import Database, create_engine, database_url
from switchyard.store.sessions import SessionStore
from switchyard.store.tables import metadata


class Store:
    """One database and the stores on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db = Database(url)
        self.sessions = SessionStore(self.db)

    async def open(self) -> "Store":
        await self.db.create_all(metadata)
        return self

    async def close(self) -> None:
        await self.db.dispose()

    @property
    def backend(self) -> str:
        return "sqlite" if self.db.is_sqlite else "postgres"


__all__ = ["Store", "SessionStore", "Database", "create_engine", "database_url"]
