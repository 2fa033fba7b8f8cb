"""Schedules and their runs, in SQL (run through the server's `Database`).

`claim` is what makes each due run run once with any number of processes: in one
transaction it inserts the run row, whose (schedule, due time) is unique, and moves the
schedule's next run time on only if it is still the due time it read. The loser of a race
changes no row (Postgres makes its UPDATE wait for the winner's commit and then re-checks
the condition; SQLite serialises writers), or at worst fails on the unique insert and its
transaction is rolled back whole.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from switchyard.store.tables import schedule_runs as runs
from switchyard.store.tables import schedules

PENDING, SUCCESS, FAILED, TIMEOUT = "pending", "success", "failed", "timeout"


def insert_schedule(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(schedules).values(**row))


def get_schedule(conn: Connection, schedule_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(schedules).where(schedules.c.id == schedule_id)).first()
    return dict(row._mapping) if row is not None else None


def all_schedules(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(schedules).order_by(schedules.c.created_at,
                                                                               schedules.c.id))]


def update_schedule(conn: Connection, schedule_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(schedules).where(schedules.c.id == schedule_id).values(**values))


def delete_schedule(conn: Connection, schedule_id: str) -> bool:
    conn.execute(runs.delete().where(runs.c.schedule_id == schedule_id))
    return conn.execute(schedules.delete().where(schedules.c.id == schedule_id)).rowcount > 0


def due(conn: Connection, now: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(schedules).where(schedules.c.enabled.is_(True))
                        .where(schedules.c.next_run_at.is_not(None)).where(schedules.c.next_run_at <= now))
    return [dict(r._mapping) for r in rows]


def claim(conn: Connection, schedule_id: str, due_at: int, run_id: str, holder: str, now: int,
          next_run_at: int | None) -> bool:
    """Claim the run of `schedule_id` due at `due_at` (see the module's docstring). Raises
    IntegrityError when another process inserted the run first (the caller's transaction
    is then rolled back whole: `try_claim`)."""
    moved = conn.execute(update(schedules).where(schedules.c.id == schedule_id)
                         .where(schedules.c.next_run_at == due_at)
                         .values(next_run_at=next_run_at, last_run_at=now,
                                 run_count=schedules.c.run_count + 1)).rowcount
    if not moved:
        return False
    conn.execute(insert(runs).values(id=run_id, schedule_id=schedule_id, due_at=due_at, status=PENDING,
                                     claimed_by=holder, triggered_at=now))
    return True


def record_manual(conn: Connection, schedule_id: str, run_id: str, holder: str, now: int) -> None:
    """A run triggered by hand: its own row (due_at = -now keeps it apart from cron times)."""
    conn.execute(insert(runs).values(id=run_id, schedule_id=schedule_id, due_at=-now, status=PENDING,
                                     claimed_by=holder, triggered_at=now))
    conn.execute(update(schedules).where(schedules.c.id == schedule_id)
                 .values(last_run_at=now, run_count=schedules.c.run_count + 1))


def finish_run(conn: Connection, schedule_id: str, run_id: str, status: str, now: int, duration: int,
               error: str | None, result: str | None) -> None:
    conn.execute(update(runs).where(runs.c.id == run_id).values(
        status=status, completed_at=now, duration=duration, error=error and error[:1000], result=result))
    counter = schedules.c.success_count if status == SUCCESS else schedules.c.failure_count
    values: dict[str, Any] = {counter.name: counter + 1}
    if status != SUCCESS:
        values["last_error"] = (error or status)[:1000]
    conn.execute(update(schedules).where(schedules.c.id == schedule_id).values(**values))


def get_run(conn: Connection, run_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
    return dict(row._mapping) if row is not None else None


def list_runs(conn: Connection, schedule_id: str, limit: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(runs).where(runs.c.schedule_id == schedule_id)
                        .order_by(runs.c.triggered_at.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


def abandon_stale(conn: Connection, before: int, now: int) -> int:
    """Runs still pending since before `before`: their process stopped without finishing them
    (a crash). Each is closed as a timeout, once, whoever sweeps."""
    stale = conn.execute(select(runs.c.id, runs.c.schedule_id).where(runs.c.status == PENDING)
                         .where(runs.c.triggered_at < before)).all()
    closed = 0
    for run_id, schedule_id in stale:
        taken = conn.execute(update(runs).where(runs.c.id == run_id).where(runs.c.status == PENDING)
                             .values(status=TIMEOUT, completed_at=now,
                                     error="abandoned: the process running it stopped")).rowcount
        if taken:
            closed += 1
            conn.execute(update(schedules).where(schedules.c.id == schedule_id).values(
                failure_count=schedules.c.failure_count + 1,
                last_error="a run was abandoned: the process running it stopped"))
    return closed
