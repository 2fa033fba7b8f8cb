"""Named leases in the store: one holder at a time, until it stops renewing.

`try_acquire(conn, name, holder, ttl_ms, now)` takes the lease when it is free, expired or
already ours (renewing it), in one transaction; a replica that dies stops renewing and
another takes over after `ttl_ms`. The conditional UPDATE is the arbiter, so it works the
same on SQLite and Postgres with any number of processes.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, or_, update
from sqlalchemy.exc import IntegrityError

from switchyard.store.database import Database
from switchyard.store.tables import leases


def try_acquire(conn: Connection, name: str, holder: str, ttl_ms: int, now: int) -> bool:
    taken = conn.execute(update(leases).where(leases.c.name == name)
                         .where(or_(leases.c.holder == holder, leases.c.expires_at < now))
                         .values(holder=holder, expires_at=now + ttl_ms)).rowcount
    if taken:
        return True
    exists = conn.execute(leases.select().where(leases.c.name == name)).first()
    if exists is not None:
        return False
    # May raise IntegrityError when another process inserted it first: `acquire` says False.
    conn.execute(insert(leases).values(name=name, holder=holder, expires_at=now + ttl_ms))
    return True


async def acquire(db: Database, name: str, holder: str, ttl_ms: int, now: int) -> bool:
    try:
        return await db.write(try_acquire, name, holder, ttl_ms, now)
    except IntegrityError:
        return False


def release(conn: Connection, name: str, holder: str) -> None:
    conn.execute(leases.delete().where(leases.c.name == name).where(leases.c.holder == holder))
