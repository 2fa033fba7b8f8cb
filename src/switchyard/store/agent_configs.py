"""The journal of agent configuration changes applied over HTTP (`agent_config_changes`):
appended by the replica that applied a change, read in order by the others
(runtime/config_sync.py). A row's `seq` is the configuration version."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select

from switchyard.ids import now_ms
from switchyard.store.tables import agent_config_changes as changes

ACTIONS = ("config", "install", "uninstall", "switch")


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def append(conn: Connection, *, agent_id: str, action: str, replica: str, text: str | None = None,
           replaced_sha: str | None = None, meta: dict[str, Any] | None = None) -> int:
    """Record a change; returns its version."""
    if action not in ACTIONS:
        raise ValueError(f"unknown configuration change {action!r}")
    result = conn.execute(insert(changes).values(
        agent_id=agent_id, action=action, text=text, sha=text_sha(text) if text is not None else None,
        replaced_sha=replaced_sha, meta=meta, replica=replica, created_at=now_ms()))
    return int(result.inserted_primary_key[0])


def latest(conn: Connection) -> int:
    """The newest version (0 before the first change)."""
    return int(conn.execute(select(func.max(changes.c.seq))).scalar() or 0)


def since(conn: Connection, seq: int, limit: int = 1000) -> list[dict[str, Any]]:
    """The changes after version `seq`, oldest first."""
    rows = conn.execute(select(changes).where(changes.c.seq > seq).order_by(changes.c.seq).limit(limit))
    return [dict(row._mapping) for row in rows]


def known_shas(conn: Connection, agent_id: str) -> set[str]:
    """Every file text the journal has seen for the agent (written by a change, or replaced
    by one): a file with any other text was edited by hand since."""
    rows = conn.execute(select(changes.c.sha, changes.c.replaced_sha).where(
        changes.c.agent_id == agent_id, or_(changes.c.sha.is_not(None), changes.c.replaced_sha.is_not(None))))
    return {sha for row in rows for sha in row if sha}
