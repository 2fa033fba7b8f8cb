"""Workspaces of an agent (the reference's `/api/workspaces`): folders its clients work in, at
most one active. Setting a path again reuses its record (same id) and makes it active; clearing
leaves the records and makes none active."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from switchyard.ids import now_ms
from switchyard.store.database import Database
from switchyard.store.tables import workspaces


def _workspace(row: Any) -> dict[str, Any]:
    found = {"id": row.id, "path": row.path, "createdAt": row.created_at, "lastActiveAt": row.last_active_at}
    if row.name is not None:
        found["name"] = row.name
    return found


class WorkspaceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self, agent_id: str) -> list[dict[str, Any]]:
        """Most recently active first."""
        query = (select(workspaces).where(workspaces.c.agent_id == agent_id)
                 .order_by(workspaces.c.last_active_at.desc(), workspaces.c.id))
        return await self.db.read(lambda conn: [_workspace(r) for r in conn.execute(query).all()])

    async def active(self, agent_id: str) -> dict[str, Any] | None:
        # The most recently activated: two activations racing on Postgres may both leave their
        # flag (each cleared the rows it could see); the later one is the active workspace.
        query = (select(workspaces).where(workspaces.c.agent_id == agent_id, workspaces.c.active.is_(True))
                 .order_by(workspaces.c.last_active_at.desc(), workspaces.c.id).limit(1))
        return await self.db.read(lambda conn: next((_workspace(r) for r in conn.execute(query).all()), None))

    async def set_active(self, agent_id: str, path: str, name: str | None) -> dict[str, Any]:
        def run(conn: Connection) -> dict[str, Any]:
            now = now_ms()
            conn.execute(update(workspaces).where(workspaces.c.agent_id == agent_id).values(active=False))
            row = conn.execute(select(workspaces).where(workspaces.c.agent_id == agent_id,
                                                        workspaces.c.path == path)).first()
            if row is None:
                conn.execute(insert(workspaces).values(agent_id=agent_id, id=str(uuid.uuid4()), path=path, name=name,
                                                       active=True, created_at=now, last_active_at=now))
            else:
                values: dict[str, Any] = {"active": True, "last_active_at": now}
                if name is not None:
                    values["name"] = name
                conn.execute(update(workspaces).where(workspaces.c.agent_id == agent_id,
                                                      workspaces.c.id == row.id).values(**values))
            found = conn.execute(select(workspaces).where(workspaces.c.agent_id == agent_id,
                                                          workspaces.c.path == path)).one()
            return _workspace(found)
        try:
            return await self.db.write(run)
        except IntegrityError:
            # The same new folder set twice at once: the other made its record; reuse it.
            return await self.db.write(run)

    async def clear(self, agent_id: str) -> None:
        await self.db.write(lambda conn: conn.execute(
            update(workspaces).where(workspaces.c.agent_id == agent_id).values(active=False)))
