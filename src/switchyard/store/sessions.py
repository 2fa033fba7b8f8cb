"""Sessions and their history, persisted. Every write that adds messages is one
transaction, so a crash in the middle of a run never leaves half a message behind."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from switchyard.store.tables import messages, sessions

_USAGE_KEYS = ("inputTokens", "outputTokens", "reasoningTokens", "cacheReadTokens",
               "cacheWriteTokens", "totalTokens")


def now_ms() -> int:
    return int(time.time() * 1000)


def _session_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "agentId": row.agent_id,
        "createdAt": row.created_at,
        "lastActivity": row.last_activity,
        "messageCount": row.message_count,
        "title": row.title,
        "parentSessionId": row.parent_session_id,
        "owner": row.owner,
        "tokenUsage": row.token_usage or {k: 0 for k in _USAGE_KEYS},
        "llmOverride": row.llm_override,
    }


class SessionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self, agent_id: str, session_id: str, *, owner: str | None = None,
                     parent_id: str | None = None, title: str | None = None) -> tuple[dict[str, Any], bool]:
        """Create a session; an existing id is returned as it is. Returns (session, created)."""
        ts = now_ms()
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(sessions).values(
                    agent_id=agent_id, id=session_id, created_at=ts, last_activity=ts, title=title,
                    parent_session_id=parent_id, owner=owner, message_count=0, next_seq=0,
                    token_usage={k: 0 for k in _USAGE_KEYS}))
            created = True
        except IntegrityError:
            created = False
        session = await self.get(agent_id, session_id)
        assert session is not None
        return session, created

    async def get(self, agent_id: str, session_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(sessions).where(
                sessions.c.agent_id == agent_id, sessions.c.id == session_id))).first()
        return _session_dict(row) if row else None

    async def list(self, agent_id: str, *, owner: str | None = None, limit: int = 1000,
                   offset: int = 0) -> list[dict[str, Any]]:
        query = select(sessions).where(sessions.c.agent_id == agent_id)
        if owner is not None:
            query = query.where(sessions.c.owner == owner)
        query = query.order_by(sessions.c.last_activity.desc()).limit(limit).offset(offset)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_session_dict(r) for r in rows]

    async def count(self, agent_id: str) -> int:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(func.count()).select_from(sessions).where(
                sessions.c.agent_id == agent_id))).scalar_one()

    async def delete(self, agent_id: str, session_id: str) -> bool:
        async with self.engine.begin() as conn:
            await conn.execute(delete(messages).where(
                messages.c.agent_id == agent_id, messages.c.session_id == session_id))
            result = await conn.execute(delete(sessions).where(
                sessions.c.agent_id == agent_id, sessions.c.id == session_id))
        return result.rowcount > 0

    async def update(self, agent_id: str, session_id: str, **values: Any) -> None:
        columns = {"title": "title", "llmOverride": "llm_override", "owner": "owner"}
        data = {columns[k]: v for k, v in values.items()}
        async with self.engine.begin() as conn:
            await conn.execute(update(sessions).where(
                sessions.c.agent_id == agent_id, sessions.c.id == session_id).values(**data))

    async def append(self, agent_id: str, session_id: str, new_messages: list[dict[str, Any]],
                     *, usage: dict[str, int] | None = None, title: str | None = None) -> None:
        """Add messages at the end of a session's history, atomically with its counters."""
        if not new_messages:
            return
        ts = now_ms()
        n = len(new_messages)
        async with self.engine.begin() as conn:
            # UPDATE ... RETURNING reserves the sequence numbers atomically on both backends,
            # so two replicas appending to one session can never collide.
            values: dict[str, Any] = {
                "next_seq": sessions.c.next_seq + n,
                "message_count": sessions.c.message_count + n,
                "last_activity": ts,
            }
            if title is not None:
                values["title"] = func.coalesce(sessions.c.title, title)
            row = (await conn.execute(
                update(sessions)
                .where(sessions.c.agent_id == agent_id, sessions.c.id == session_id)
                .values(**values)
                .returning(sessions.c.next_seq, sessions.c.token_usage))).first()
            if row is None:
                raise KeyError(session_id)
            first_seq = row.next_seq - n
            await conn.execute(insert(messages), [
                {"agent_id": agent_id, "session_id": session_id, "seq": first_seq + i,
                 "id": m["id"], "role": m["role"], "created_at": m.get("timestamp", ts), "body": m}
                for i, m in enumerate(new_messages)])
            if usage:
                totals = dict(row.token_usage or {})
                for key in _USAGE_KEYS:
                    totals[key] = int(totals.get(key, 0)) + int(usage.get(key, 0) or 0)
                await conn.execute(update(sessions).where(
                    sessions.c.agent_id == agent_id, sessions.c.id == session_id).values(token_usage=totals))

    async def history(self, agent_id: str, session_id: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(messages.c.body).where(
                messages.c.agent_id == agent_id, messages.c.session_id == session_id)
                .order_by(messages.c.seq))).all()
        return [r.body for r in rows]

    async def clear_history(self, agent_id: str, session_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(messages).where(
                messages.c.agent_id == agent_id, messages.c.session_id == session_id))
            await conn.execute(update(sessions).where(
                sessions.c.agent_id == agent_id, sessions.c.id == session_id).values(
                message_count=0, last_activity=now_ms(), token_usage={k: 0 for k in _USAGE_KEYS}))

    async def fork(self, agent_id: str, parent_id: str, child_id: str, *, title: str,
                   owner: str | None) -> dict[str, Any]:
        """Copy a session and its whole history under a new id, in one transaction."""
        ts = now_ms()
        async with self.engine.begin() as conn:
            parent = (await conn.execute(select(sessions).where(
                sessions.c.agent_id == agent_id, sessions.c.id == parent_id))).first()
            if parent is None:
                raise KeyError(parent_id)
            rows = (await conn.execute(select(messages).where(
                messages.c.agent_id == agent_id, messages.c.session_id == parent_id)
                .order_by(messages.c.seq))).all()
            await conn.execute(insert(sessions).values(
                agent_id=agent_id, id=child_id, created_at=ts, last_activity=ts, title=title,
                parent_session_id=parent_id, owner=owner, message_count=len(rows),
                next_seq=len(rows), token_usage=parent.token_usage, llm_override=parent.llm_override))
            if rows:
                await conn.execute(insert(messages), [
                    {"agent_id": agent_id, "session_id": child_id, "seq": i, "id": r.id,
                     "role": r.role, "created_at": r.created_at, "body": r.body}
                    for i, r in enumerate(rows)])
        session = await self.get(agent_id, child_id)
        assert session is not None
        return session
