"""Small per-key preferences of an agent's clients: a JSON value under a name, per owner
(the key's name; "" without keys). Read-modify-write happens in one transaction, so two
concurrent updates of the same preference do not lose one another on Postgres (row lock) or
SQLite (one writer); two concurrent first writes are settled by the primary key and a retry."""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from switchyard.ids import now_ms
from switchyard.store.database import Database
from switchyard.store.tables import preferences


def _owner(owner: str | None) -> str:
    return owner or ""


class PreferenceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _where(agent_id: str, owner: str | None, name: str) -> list[Any]:
        return [preferences.c.agent_id == agent_id, preferences.c.owner == _owner(owner), preferences.c.name == name]

    async def get(self, agent_id: str, owner: str | None, name: str) -> Any:
        query = select(preferences.c.value).where(*self._where(agent_id, owner, name))
        return await self.db.read(lambda conn: conn.execute(query).scalar())

    async def update(self, agent_id: str, owner: str | None, name: str, change: Callable[[Any], Any]) -> Any:
        """Store `change(current value or None)` and return it."""
        where = self._where(agent_id, owner, name)

        def run(conn: Connection) -> Any:
            query = select(preferences.c.value).where(*where)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            current = conn.execute(query).first()
            value = change(None if current is None else current.value)
            if current is None:
                conn.execute(insert(preferences).values(agent_id=agent_id, owner=_owner(owner), name=name,
                                                        value=value, updated_at=now_ms()))
            else:
                conn.execute(update(preferences).where(*where).values(value=value, updated_at=now_ms()))
            return value
        try:
            return await self.db.write(run)
        except IntegrityError:
            # Two first writes of one preference at once: the other made the row; change it.
            return await self.db.write(run)
