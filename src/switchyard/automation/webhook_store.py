"""Webhooks and their delivery outbox, in SQL (run through the server's `Database`).

Each function takes a Connection and runs inside the caller's transaction (Database.write).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from switchyard.store.tables import webhook_deliveries as deliveries
from switchyard.store.tables import webhooks

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


@dataclass(frozen=True)
class Webhook:
    id: str
    owner: str | None
    url: str
    secret: str
    description: str | None
    events: tuple[str, ...] | None
    agent_id: str | None
    created_at: int

    def wants(self, agent_id: str, event_name: str, default_events: frozenset[str]) -> bool:
        if self.agent_id is not None and self.agent_id != agent_id:
            return False
        if self.events is None:
            return event_name in default_events
        return "*" in self.events or event_name in self.events


def _webhook(row: Any) -> Webhook:
    m = row._mapping
    return Webhook(m["id"], m["owner"], m["url"], m["secret"], m["description"],
                   tuple(m["events"]) if m["events"] is not None else None, m["agent_id"], m["created_at"])


def insert_webhook(conn: Connection, hook: Webhook) -> None:
    conn.execute(insert(webhooks).values(
        id=hook.id, owner=hook.owner, url=hook.url, secret=hook.secret, description=hook.description,
        events=list(hook.events) if hook.events is not None else None, agent_id=hook.agent_id,
        created_at=hook.created_at))


def all_webhooks(conn: Connection) -> list[Webhook]:
    return [_webhook(r) for r in conn.execute(select(webhooks).order_by(webhooks.c.created_at, webhooks.c.id))]


def get_webhook(conn: Connection, webhook_id: str) -> Webhook | None:
    row = conn.execute(select(webhooks).where(webhooks.c.id == webhook_id)).first()
    return _webhook(row) if row is not None else None


def delete_webhook(conn: Connection, webhook_id: str) -> bool:
    conn.execute(deliveries.delete().where(deliveries.c.webhook_id == webhook_id))
    return conn.execute(webhooks.delete().where(webhooks.c.id == webhook_id)).rowcount > 0


# --- the outbox -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Outgoing:
    """One event for one webhook, as recorded."""

    id: str
    webhook_id: str
    event_type: str
    body: str
    created_at: int


def record(conn: Connection, rows: list[Outgoing], limit: int) -> list[Outgoing]:
    """Write the rows, except for a webhook already holding `limit` undelivered ones (those
    are returned: the caller reports them dropped)."""
    hooks = {r.webhook_id for r in rows}
    waiting = dict(conn.execute(
        select(deliveries.c.webhook_id, func.count()).where(deliveries.c.status == PENDING)
        .where(deliveries.c.webhook_id.in_(hooks)).group_by(deliveries.c.webhook_id)).all())
    kept, dropped = [], []
    for row in rows:
        if waiting.get(row.webhook_id, 0) >= limit:
            dropped.append(row)
            continue
        waiting[row.webhook_id] = waiting.get(row.webhook_id, 0) + 1
        kept.append({"id": row.id, "webhook_id": row.webhook_id, "event_type": row.event_type,
                     "body": row.body, "status": PENDING, "attempts": 0,
                     "next_attempt_at": row.created_at, "created_at": row.created_at})
    if kept:
        conn.execute(insert(deliveries), kept)
    return dropped


def pending_count(conn: Connection) -> int:
    """Deliveries not yet made (GET /metrics), over every replica's events."""
    return int(conn.execute(select(func.count()).select_from(deliveries)
                            .where(deliveries.c.status == PENDING)).scalar_one())


def heads(conn: Connection) -> list[dict[str, Any]]:
    """The oldest undelivered row of every webhook (deliveries go out in order per webhook)."""
    first = (select(func.min(deliveries.c.seq)).where(deliveries.c.status == PENDING)
             .group_by(deliveries.c.webhook_id)).scalar_subquery()
    rows = conn.execute(select(deliveries).where(deliveries.c.seq.in_(first)))
    return [dict(r._mapping) for r in rows]


def finish(conn: Connection, seq: int, status: str, attempts: int, now: int, last_status: int | None,
           last_error: str | None, next_attempt_at: int | None = None) -> None:
    values: dict[str, Any] = {"status": status, "attempts": attempts, "last_status": last_status,
                              "last_error": (last_error or None) and last_error[:500]}
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    if status != PENDING:
        values["finished_at"] = now
    conn.execute(update(deliveries).where(deliveries.c.seq == seq).values(**values))


def list_deliveries(conn: Connection, webhook_id: str, status: str | None, limit: int) -> list[dict[str, Any]]:
    query = select(deliveries).where(deliveries.c.webhook_id == webhook_id)
    if status:
        query = query.where(deliveries.c.status == status)
    rows = conn.execute(query.order_by(deliveries.c.seq.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


def redrive(conn: Connection, webhook_id: str, delivery_id: str, now: int) -> bool:
    """Put a dead delivery back in the queue (its position is kept: it goes out first)."""
    return conn.execute(update(deliveries).where(deliveries.c.webhook_id == webhook_id)
                        .where(deliveries.c.id == delivery_id).where(deliveries.c.status == DEAD)
                        .values(status=PENDING, attempts=0, next_attempt_at=now, finished_at=None)).rowcount > 0
