"""Sessions and their history, persisted. Every write that adds messages is one
transaction, so a crash in the middle of a run never leaves half a message behind.

Each operation is a synchronous function over a Connection, run by `Database` (directly
for SQLite, through asyncpg for Postgres)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from switchyard.errors import NotFoundError
from switchyard.ids import now_ms
from switchyard.store.database import Database
from switchyard.store.fulltext import message_text
from switchyard.store.tables import messages, sessions


def is_summary(message: dict[str, Any]) -> bool:
    """A compaction summary message (runtime/compaction.py marks it in its metadata)."""
    metadata = message.get("metadata")
    return isinstance(metadata, dict) and "compaction" in metadata

# API name -> column, for the running token totals.
_USAGE_COLUMNS = {
    "inputTokens": "input_tokens",
    "outputTokens": "output_tokens",
    "reasoningTokens": "reasoning_tokens",
    "cacheReadTokens": "cache_read_tokens",
    "cacheWriteTokens": "cache_write_tokens",
}


def _session_dict(row: Any) -> dict[str, Any]:
    usage = {name: int(getattr(row, column) or 0) for name, column in _USAGE_COLUMNS.items()}
    usage["totalTokens"] = usage["inputTokens"] + usage["outputTokens"]
    return {
        "id": row.id,
        "agentId": row.agent_id,
        "createdAt": row.created_at,
        "lastActivity": row.last_activity,
        "messageCount": row.message_count,
        "title": row.title,
        "parentSessionId": row.parent_session_id,
        "owner": row.owner,
        "tokenUsage": usage,
        "llmOverride": row.llm_override,
        "contextStartSeq": row.context_start_seq,
    }


def _not_found(session_id: str) -> NotFoundError:
    # The same error (and code) the agent raises for an unknown session.
    return NotFoundError(f"session {session_id!r} not found", code="session_not_found")


def _where(agent_id: str, session_id: str) -> tuple[Any, Any]:
    return sessions.c.agent_id == agent_id, sessions.c.id == session_id


_INSERT_IF_ABSENT: dict[str, Any] = {}


def _insert_if_absent(conn: Connection, values: dict[str, Any]) -> bool:
    statement = _INSERT_IF_ABSENT.get(conn.dialect.name)
    if statement is None:
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        statement = _INSERT_IF_ABSENT[conn.dialect.name] = dialect_insert(sessions).on_conflict_do_nothing()
    return conn.execute(statement, values).rowcount == 1


# The statements of the hot path (every turn runs them), built once: SQLAlchemy then only
# looks up their compiled form instead of building and hashing a new statement per call.
_GET = select(sessions).where(sessions.c.agent_id == bindparam("a"), sessions.c.id == bindparam("s"))
_HISTORY = (select(messages.c.body)
            .where(messages.c.agent_id == bindparam("a"), messages.c.session_id == bindparam("s"))
            .order_by(messages.c.seq))
_APPEND = (update(sessions)
           .where(sessions.c.agent_id == bindparam("a"), sessions.c.id == bindparam("s"))
           .values(next_seq=sessions.c.next_seq + bindparam("n"),
                   message_count=sessions.c.message_count + bindparam("n"),
                   last_activity=bindparam("ts"),
                   title=func.coalesce(sessions.c.title, bindparam("title")),
                   **{column: getattr(sessions.c, column) + bindparam(f"u_{column}")
                      for column in _USAGE_COLUMNS.values()})
           .returning(sessions.c.next_seq))
_INSERT_MESSAGES = insert(messages)
_CONTEXT = (select(messages.c.body)
            .where(messages.c.agent_id == bindparam("a"), messages.c.session_id == bindparam("s"),
                   messages.c.seq >= func.coalesce(
                       select(sessions.c.context_start_seq)
                       .where(sessions.c.agent_id == bindparam("a"), sessions.c.id == bindparam("s"))
                       .scalar_subquery(), 0))
            .order_by(messages.c.seq))

_LAST_ROLE = (select(messages.c.role)
              .where(messages.c.agent_id == bindparam("a"), messages.c.session_id == bindparam("s"))
              .order_by(messages.c.seq.desc()).limit(1))


def _get(conn: Connection, agent_id: str, session_id: str) -> dict[str, Any] | None:
    row = conn.execute(_GET, {"a": agent_id, "s": session_id}).first()
    return _session_dict(row) if row else None


def _new_row(agent_id: str, session_id: str, ts: int, **extra: Any) -> dict[str, Any]:
    row = {"agent_id": agent_id, "id": session_id, "created_at": ts, "last_activity": ts, "title": None,
           "parent_session_id": None, "owner": None, "llm_override": None, "message_count": 0,
           "context_start_seq": None,
           "next_seq": 0, **{c: 0 for c in _USAGE_COLUMNS.values()}}
    row.update(extra)
    return row


class SessionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, agent_id: str, session_id: str, *, owner: str | None = None,
                     parent_id: str | None = None, title: str | None = None) -> tuple[dict[str, Any], bool]:
        """Create a session; an existing id is returned as it is. Returns (session, created)."""
        def run(conn: Connection) -> tuple[dict[str, Any], bool]:
            created = _insert_if_absent(conn, _new_row(agent_id, session_id, now_ms(), owner=owner,
                                                       parent_session_id=parent_id, title=title))
            session = _get(conn, agent_id, session_id)
            assert session is not None
            return session, created
        return await self.db.write(run)

    async def begin_turn(self, agent_id: str, session_id: str, message: dict[str, Any], *,
                         owner: str | None = None, title: str | None = None,
                         unanswered: dict[str, Any] | None = None) -> tuple[dict[str, Any], bool, int]:
        """Create the session if needed and append the turn's first (user) message, in one
        transaction. When the history so far ends with a user message that got no answer (a
        turn that died with its process), `unanswered` is stored before it, so that no two
        user messages follow each other. Returns (session after the append, whether it was
        created, its next sequence number: see `append`)."""
        ts = now_ms()

        def run(conn: Connection) -> tuple[dict[str, Any], bool, int]:
            created = _insert_if_absent(conn, _new_row(agent_id, session_id, ts, owner=owner))
            batch = [message]
            if (not created and unanswered is not None
                    and conn.execute(_LAST_ROLE, {"a": agent_id, "s": session_id}).scalar() == "user"):
                batch = [unanswered, message]
            params = {"a": agent_id, "s": session_id, "n": len(batch), "ts": ts, "title": title,
                      **{f"u_{column}": 0 for column in _USAGE_COLUMNS.values()}}
            row = conn.execute(_APPEND, params).first()
            conn.execute(_INSERT_MESSAGES, [{
                "agent_id": agent_id, "session_id": session_id, "seq": row.next_seq - len(batch) + i,
                "id": m["id"], "role": m["role"], "created_at": m.get("timestamp", ts), "body": m, "text": message_text(m)}
                for i, m in enumerate(batch)])
            session = _get(conn, agent_id, session_id)
            assert session is not None
            return session, created, row.next_seq
        return await self.db.write(run)

    async def unanswered(self, agent_id: str) -> list[str]:
        """The sessions whose history ends with a user message (a turn that got no answer)."""
        last = (select(messages.c.session_id, func.max(messages.c.seq).label("seq"))
                .where(messages.c.agent_id == agent_id).group_by(messages.c.session_id).subquery())
        query = (select(messages.c.session_id)
                 .join(last, (messages.c.session_id == last.c.session_id) & (messages.c.seq == last.c.seq))
                 .where(messages.c.agent_id == agent_id, messages.c.role == "user"))
        return await self.db.read(lambda conn: list(conn.execute(query).scalars()))

    async def get(self, agent_id: str, session_id: str) -> dict[str, Any] | None:
        return await self.db.read(_get, agent_id, session_id)

    async def list(self, agent_id: str, *, owner: str | None = None, limit: int = 1000,
                   offset: int = 0) -> list[dict[str, Any]]:
        query = select(sessions).where(sessions.c.agent_id == agent_id)
        if owner is not None:
            query = query.where(sessions.c.owner == owner)
        query = query.order_by(sessions.c.last_activity.desc()).limit(limit).offset(offset)
        return await self.db.read(lambda conn: [_session_dict(r) for r in conn.execute(query).all()])

    async def count(self, agent_id: str) -> int:
        query = select(func.count()).select_from(sessions).where(sessions.c.agent_id == agent_id)
        return await self.db.read(lambda conn: conn.execute(query).scalar_one())

    async def delete(self, agent_id: str, session_id: str) -> bool:
        def run(conn: Connection) -> bool:
            conn.execute(delete(messages).where(messages.c.agent_id == agent_id,
                                                messages.c.session_id == session_id))
            return conn.execute(delete(sessions).where(*_where(agent_id, session_id))).rowcount > 0
        return await self.db.write(run)

    async def update(self, agent_id: str, session_id: str, **values: Any) -> None:
        columns = {"title": "title", "llmOverride": "llm_override", "owner": "owner"}
        data = {columns[k]: v for k, v in values.items()}
        await self.db.write(lambda conn: conn.execute(
            update(sessions).where(*_where(agent_id, session_id)).values(**data)))

    async def append(self, agent_id: str, session_id: str, new_messages: list[dict[str, Any]],
                     *, usage: dict[str, int] | None = None, title: str | None = None) -> int | None:
        """Add messages at the end of a session's history, atomically with its counters.
        Returns the session's next sequence number after them: it only grows (a cleared
        history keeps it), so with createdAt and messageCount it marks one state of the
        history (the live history cache, runtime/sessions.py, relies on that)."""
        if not new_messages:
            return None
        ts = now_ms()
        n = len(new_messages)
        params = {"a": agent_id, "s": session_id, "n": n, "ts": ts, "title": title,
                  **{f"u_{column}": int((usage or {}).get(name) or 0) for name, column in _USAGE_COLUMNS.items()}}
        rows = [{"agent_id": agent_id, "session_id": session_id, "seq": 0, "id": m["id"], "role": m["role"],
                 "created_at": m.get("timestamp", ts), "body": m, "text": message_text(m)}
                for m in new_messages]

        def run(conn: Connection) -> int:
            # UPDATE ... RETURNING reserves the sequence numbers atomically on both backends,
            # so two replicas appending to one session can never collide.
            row = conn.execute(_APPEND, params).first()
            if row is None:
                raise _not_found(session_id)
            for i, message_row in enumerate(rows):
                message_row["seq"] = row.next_seq - n + i
            conn.execute(_INSERT_MESSAGES, rows)
            return row.next_seq
        return await self.db.write(run)

    async def history(self, agent_id: str, session_id: str) -> list[dict[str, Any]]:
        return await self.db.read(lambda conn: [r.body for r in conn.execute(
            _HISTORY, {"a": agent_id, "s": session_id}).all()])

    async def context(self, agent_id: str, session_id: str) -> list[dict[str, Any]]:
        """The messages the model sees: the history from the session's context start on, with
        the newest compaction summary first (it is stored after the messages it keeps verbatim,
        see `compact`; an older summary in the range is part of what it summarises)."""
        def run(conn: Connection) -> list[dict[str, Any]]:
            bodies = [r.body for r in conn.execute(_CONTEXT, {"a": agent_id, "s": session_id}).all()]
            summaries = [i for i, body in enumerate(bodies) if is_summary(body)]
            if not summaries:
                return bodies
            newest = summaries[-1]
            dropped = set(summaries)
            return [bodies[newest], *(b for i, b in enumerate(bodies) if i not in dropped)]
        return await self.db.read(run)

    async def compact(self, agent_id: str, session_id: str, summary: dict[str, Any],
                      keep_from_id: str | None) -> int:
        """Store a compaction summary (runtime/compaction.py) and start the model's context at
        the first message kept verbatim (`keep_from_id`; None: at the summary itself), in one
        transaction: the model then sees the summary followed by the kept messages, and the
        user's history keeps everything. Returns the session's next sequence number (its mark
        moves, as with `append`)."""
        ts = now_ms()
        params = {"a": agent_id, "s": session_id, "n": 1, "ts": ts, "title": None,
                  **{f"u_{column}": 0 for column in _USAGE_COLUMNS.values()}}

        def run(conn: Connection) -> int:
            row = conn.execute(_APPEND, params).first()
            if row is None:
                raise _not_found(session_id)
            seq = row.next_seq - 1
            conn.execute(_INSERT_MESSAGES, [{
                "agent_id": agent_id, "session_id": session_id, "seq": seq, "id": summary["id"],
                "role": summary["role"], "created_at": summary.get("timestamp", ts), "body": summary,
                "text": message_text(summary)}])
            start = seq
            if keep_from_id is not None:
                kept = conn.execute(select(messages.c.seq).where(
                    messages.c.agent_id == agent_id, messages.c.session_id == session_id,
                    messages.c.id == keep_from_id)).scalar()
                start = seq if kept is None else kept
            conn.execute(update(sessions).where(*_where(agent_id, session_id)).values(context_start_seq=start))
            return row.next_seq
        return await self.db.write(run)

    async def start_context(self, agent_id: str, session_id: str, at_seq: int | None = None) -> int:
        """Start the model's context at message `at_seq` (None: after the last message, i.e.
        a fresh context); the history the user sees keeps every message. Returns the start.

        The one primitive for clear-context and for compaction (which appends its summary
        message, then starts the context at that message's seq). It also advances next_seq
        by one (a gap in the numbering), which moves the history's mark: every replica's kept
        history of the session (runtime/sessions.py) stops matching and is read back."""
        def run(conn: Connection) -> int:
            row = conn.execute(select(sessions.c.next_seq).where(*_where(agent_id, session_id))).first()
            if row is None:
                raise _not_found(session_id)
            start = row.next_seq + 1 if at_seq is None else at_seq
            conn.execute(update(sessions).where(*_where(agent_id, session_id)).values(
                next_seq=sessions.c.next_seq + 1, context_start_seq=start, last_activity=now_ms()))
            return start
        return await self.db.write(run)

    async def clear_history(self, agent_id: str, session_id: str) -> None:
        def run(conn: Connection) -> None:
            conn.execute(delete(messages).where(messages.c.agent_id == agent_id,
                                                messages.c.session_id == session_id))
            conn.execute(update(sessions).where(*_where(agent_id, session_id)).values(
                message_count=0, last_activity=now_ms(), context_start_seq=None,
                **{c: 0 for c in _USAGE_COLUMNS.values()}))
        await self.db.write(run)

    async def fork(self, agent_id: str, parent_id: str, child_id: str, *, title: str,
                   owner: str | None) -> dict[str, Any]:
        """Copy a session and its whole history under a new id, in one transaction."""
        def run(conn: Connection) -> dict[str, Any]:
            parent = conn.execute(select(sessions).where(*_where(agent_id, parent_id))).first()
            if parent is None:
                raise _not_found(parent_id)
            rows = conn.execute(select(messages).where(
                messages.c.agent_id == agent_id, messages.c.session_id == parent_id)
                .order_by(messages.c.seq)).all()
            usage = {c: getattr(parent, c) for c in _USAGE_COLUMNS.values()}
            # The copy is renumbered from 0: its context starts at the same message.
            start = (None if parent.context_start_seq is None
                     else sum(1 for r in rows if r.seq < parent.context_start_seq))
            conn.execute(insert(sessions).values(**{
                **_new_row(agent_id, child_id, now_ms(), title=title, parent_session_id=parent_id,
                           owner=owner, llm_override=parent.llm_override, context_start_seq=start),
                "message_count": len(rows), "next_seq": len(rows), **usage}))
            if rows:
                conn.execute(insert(messages), [
                    {"agent_id": agent_id, "session_id": child_id, "seq": i, "id": r.id,
                     "role": r.role, "created_at": r.created_at, "body": r.body, "text": r.text}
                    for i, r in enumerate(rows)])
            session = _get(conn, agent_id, child_id)
            assert session is not None
            return session
        return await self.db.write(run)
