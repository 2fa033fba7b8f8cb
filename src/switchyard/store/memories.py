"""Memories: short notes an API key keeps for an agent (the reference's `/api/memory`), with
tags, a source (`user` | `system`), a pinned flag, and more metadata passed through.

Every operation names the owner it acts for: `owner=ALL` (admins) reaches every memory; any
other value (a key's name, or None in no-auth mode) reaches only the memories recorded with
it. A memory another owner holds is answered exactly like a missing one (`memory_not_found`).
The ownership rules themselves are in runtime/memory_access.py; this store only filters."""

from __future__ import annotations

import secrets
import string
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from switchyard.errors import NotFoundError
from switchyard.ids import now_ms
from switchyard.store.database import Database
from switchyard.store.tables import memories, memory_tags


class _All:
    def __repr__(self) -> str:
        return "ALL"


ALL: Any = _All()   # the owner filter that reaches every memory (admins)

_ID_ALPHABET = string.ascii_letters + string.digits + "_-"


def new_memory_id() -> str:
    """12 characters of a URL-safe alphabet, as the reference's nanoid(12)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


def _memory_dict(row: Any) -> dict[str, Any]:
    memory: dict[str, Any] = {"id": row.id, "content": row.content, "createdAt": row.created_at,
                              "updatedAt": row.updated_at}
    if row.tags:
        memory["tags"] = list(row.tags)
    if row.metadata:
        memory["metadata"] = dict(row.metadata)
    return memory


def _not_found(memory_id: str) -> NotFoundError:
    return NotFoundError(f"memory {memory_id!r} not found", code="memory_not_found")


class MemoryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _scope(agent_id: str, owner: Any) -> list[Any]:
        where = [memories.c.agent_id == agent_id]
        if owner is not ALL:
            where.append(memories.c.owner.is_(None) if owner is None else memories.c.owner == owner)
        return where

    async def create(self, agent_id: str, owner: str | None, content: str, *,
                     tags: list[str] | None = None, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        metadata = dict(metadata or {})
        tags = _unique(tags or [])
        row = {"agent_id": agent_id, "id": new_memory_id(), "owner": owner, "content": content,
               "tags": tags, "metadata": metadata, "source": metadata.get("source"),
               "pinned": bool(metadata.get("pinned"))}

        def run(conn: Connection) -> dict[str, Any]:
            ts = _next_change(conn, agent_id)
            conn.execute(insert(memories).values(**row, created_at=ts, updated_at=ts))
            _write_tags(conn, agent_id, row["id"], tags)
            return _memory_dict(conn.execute(select(memories).where(
                memories.c.agent_id == agent_id, memories.c.id == row["id"])).one())
        return await self.db.write(run)

    async def get(self, agent_id: str, owner: Any, memory_id: str) -> dict[str, Any]:
        def run(conn: Connection) -> dict[str, Any]:
            found = conn.execute(select(memories).where(*self._scope(agent_id, owner),
                                                        memories.c.id == memory_id)).first()
            if found is None:
                raise _not_found(memory_id)
            return _memory_dict(found)
        return await self.db.read(run)

    async def list(self, agent_id: str, owner: Any, *, tags: list[str] | None = None,
                   source: str | None = None, pinned: bool | None = None, limit: int | None = None,
                   offset: int = 0) -> list[dict[str, Any]]:
        """Newest change first. `tags`: memories with any of them."""
        query = select(memories).where(*self._scope(agent_id, owner))
        if tags:
            query = query.where(memories.c.id.in_(
                select(memory_tags.c.memory_id).where(memory_tags.c.agent_id == agent_id,
                                                      memory_tags.c.tag.in_(tags))))
        if source is not None:
            query = query.where(memories.c.source == source)
        if pinned is not None:
            query = query.where(memories.c.pinned == pinned)
        query = query.order_by(memories.c.updated_at.desc(), memories.c.id).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return await self.db.read(lambda conn: [_memory_dict(r) for r in conn.execute(query).all()])

    async def update(self, agent_id: str, owner: Any, memory_id: str, *, content: str | None = None,
                     tags: list[str] | None = None, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """`tags` replace the memory's tags; `metadata` is merged into its metadata."""
        def run(conn: Connection) -> dict[str, Any]:
            where = [*self._scope(agent_id, owner), memories.c.id == memory_id]
            found = conn.execute(select(memories).where(*where)).first()
            if found is None:
                raise _not_found(memory_id)
            values: dict[str, Any] = {"updated_at": _next_change(conn, agent_id)}
            if content is not None:
                values["content"] = content
            if tags is not None:
                values["tags"] = _unique(tags)
                conn.execute(delete(memory_tags).where(memory_tags.c.agent_id == agent_id,
                                                       memory_tags.c.memory_id == memory_id))
                _write_tags(conn, agent_id, memory_id, values["tags"])
            if metadata is not None:
                merged = {**(found.metadata or {}), **metadata}
                values.update(metadata=merged, source=merged.get("source"), pinned=bool(merged.get("pinned")))
            conn.execute(update(memories).where(*where).values(**values))
            return _memory_dict(conn.execute(select(memories).where(*where)).one())
        return await self.db.write(run)

    async def delete(self, agent_id: str, owner: Any, memory_id: str) -> None:
        def run(conn: Connection) -> None:
            where = [*self._scope(agent_id, owner), memories.c.id == memory_id]
            if conn.execute(delete(memories).where(*where)).rowcount == 0:
                raise _not_found(memory_id)
            conn.execute(delete(memory_tags).where(memory_tags.c.agent_id == agent_id,
                                                   memory_tags.c.memory_id == memory_id))
        await self.db.write(run)

    async def count(self, agent_id: str, owner: Any) -> int:
        query = select(func.count()).select_from(memories).where(*self._scope(agent_id, owner))
        return await self.db.read(lambda conn: conn.execute(query).scalar_one())


def _next_change(conn: Connection, agent_id: str) -> int:
    """The time of a change: now, but after the agent's last change, so that "newest change
    first" is a strict order even for changes within one millisecond."""
    last = conn.execute(select(func.max(memories.c.updated_at)).where(memories.c.agent_id == agent_id)).scalar()
    return max(now_ms(), (last or 0) + 1)


def _unique(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


def _write_tags(conn: Connection, agent_id: str, memory_id: str, tags: list[str]) -> None:
    if tags:
        conn.execute(insert(memory_tags), [{"agent_id": agent_id, "memory_id": memory_id, "tag": t}
                                           for t in tags])


class AgentMemories:
    """One agent's memories, for the `memory_*` tools (tools/memory_tools.py `MemoryBook`):
    each call names the owner it acts for (the session's owner, from the tool call's
    context) and reaches only that owner's memories."""

    def __init__(self, agent_id: str, store: MemoryStore) -> None:
        self.agent_id = agent_id
        self.store = store

    async def create(self, owner: str | None, content: str, tags: list[str] | None,
                     metadata: dict[str, Any] | None) -> dict[str, Any]:
        return await self.store.create(self.agent_id, owner, content, tags=tags, metadata=metadata)

    async def list(self, owner: str | None, **filters: Any) -> list[dict[str, Any]]:
        return await self.store.list(self.agent_id, owner, **filters)

    async def update(self, owner: str | None, memory_id: str, **changes: Any) -> dict[str, Any]:
        return await self.store.update(self.agent_id, owner, memory_id, **changes)

    async def delete(self, owner: str | None, memory_id: str) -> None:
        await self.store.delete(self.agent_id, owner, memory_id)
