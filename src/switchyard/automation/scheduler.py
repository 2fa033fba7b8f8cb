"""ScheduleService: schedules owned by the key that made them, and the tick that runs them.

The tick (every SWITCHYARD_SCHEDULER_TICK_SECONDS, under the server's automation Supervisor)
reads the enabled schedules whose next run time has come and claims each due run in the store
(schedule_store.claim): whichever process claims it runs it, so every due run runs once with
any number of replicas, and a restart neither loses one (a time that passed while the server
was down is run once when it is back, then the schedule moves on from now) nor runs one twice.
A claimed run is an ordinary turn of the schedule's agent, owned by the schedule's owner, in
the session its mode names (schedules.py), recorded with its outcome in `schedule_runs`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from typing import Any, Callable

from sqlalchemy.exc import IntegrityError

from switchyard.automation import schedule_store as ss
from switchyard.automation.schedules import (check_cron, check_session_mode, check_timezone, next_run)
from switchyard.errors import LimitError, NotFoundError, RequestError
from switchyard.ids import now_ms
from switchyard.principal import Principal
from switchyard.runtime.host import AgentHost
from switchyard.runtime.supervisor import Supervisor
from switchyard.store.database import Database

log = logging.getLogger("switchyard.schedules")

MAX_SCHEDULES_PER_OWNER = 100
RUN_TIMEOUT_SECONDS = 600.0
MAX_RESULT_CHARS = 4000
SWEEP_EVERY_MS = 60_000


class ScheduleService:
    def __init__(self, db: Database, host: AgentHost, *, tick_seconds: float = 1.0,
                 clock: Callable[[], int] = now_ms, run_timeout: float = RUN_TIMEOUT_SECONDS) -> None:
        self.db = db
        self.host = host
        self.tick_seconds = tick_seconds
        self.clock = clock
        self.run_timeout = run_timeout
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.supervisor: Supervisor | None = None
        self.paused = False
        self._swept_at = 0

    # --- lifecycle --------------------------------------------------------------------------

    def start(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        supervisor.every(self.tick_seconds, self.tick, name="schedule-tick", run_now=True)

    def pause(self) -> None:
        """No new run starts (at shutdown, before the agents stop); running ones finish."""
        self.paused = True

    # --- the API ----------------------------------------------------------------------------

    @staticmethod
    def _visible(row: dict[str, Any], principal: Principal) -> bool:
        return principal.is_root or principal.name is None or row["owner"] == principal.name

    async def create(self, principal: Principal, *, name: str, instruction: str, cron: str,
                     timezone: str = "UTC", enabled: bool = True, workspace_path: str | None = None,
                     session_mode: str = "dedicated", session_id: str | None = None,
                     agent_id: str | None = None, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        cron, timezone = check_cron(cron), check_timezone(timezone)
        check_session_mode(session_mode, session_id)
        agent = self._agent(agent_id)
        mine = [r for r in await self.db.read(ss.all_schedules) if r["owner"] == principal.name]
        if len(mine) >= MAX_SCHEDULES_PER_OWNER:
            raise LimitError(f"at most {MAX_SCHEDULES_PER_OWNER} schedules per key", code="schedule_limit_reached",
                             status=429)
        now = self.clock()
        row = {"id": f"sched_{uuid.uuid4().hex[:16]}", "owner": principal.name, "agent_id": agent.id,
               "name": name, "cron": cron, "timezone": timezone, "enabled": enabled, "instruction": instruction,
               "metadata": metadata, "session_mode": session_mode, "session_id": session_id,
               "workspace_path": workspace_path, "created_at": now, "updated_at": now, "last_run_at": None,
               "next_run_at": next_run(cron, timezone, now) if enabled else None, "run_count": 0,
               "success_count": 0, "failure_count": 0, "last_error": None}
        await self.db.write(ss.insert_schedule, row)
        return row

    async def list(self, principal: Principal) -> list[dict[str, Any]]:
        return [r for r in await self.db.read(ss.all_schedules) if self._visible(r, principal)]

    async def get(self, principal: Principal, schedule_id: str) -> dict[str, Any]:
        row = await self.db.read(ss.get_schedule, schedule_id)
        if row is None or not self._visible(row, principal):
            raise NotFoundError(f"Schedule not found: {schedule_id}", code="schedule_not_found",
                                details={"scheduleId": schedule_id})
        return row

    async def update(self, principal: Principal, schedule_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        row = await self.get(principal, schedule_id)
        values: dict[str, Any] = {}
        for key, column in (("name", "name"), ("instruction", "instruction"), ("enabled", "enabled"),
                            ("workspacePath", "workspace_path")):
            if key in changes:
                values[column] = changes[key]
        if "cronExpression" in changes:
            values["cron"] = check_cron(changes["cronExpression"])
        if "timezone" in changes:
            values["timezone"] = check_timezone(changes["timezone"])
        merged = {**row, **values}
        if {"cron", "timezone", "enabled"} & set(values):
            values["next_run_at"] = (next_run(merged["cron"], merged["timezone"], self.clock())
                                     if merged["enabled"] else None)
        values["updated_at"] = self.clock()
        await self.db.write(ss.update_schedule, schedule_id, values)
        return {**merged, **values}

    async def delete(self, principal: Principal, schedule_id: str) -> None:
        await self.get(principal, schedule_id)
        await self.db.write(ss.delete_schedule, schedule_id)

    async def trigger(self, principal: Principal, schedule_id: str) -> dict[str, Any]:
        """Run the schedule now (besides its cron times) and return the finished execution."""
        row = await self.get(principal, schedule_id)
        run_id = f"exec_{uuid.uuid4().hex[:16]}"
        await self.db.write(ss.record_manual, schedule_id, run_id, self.holder, self.clock())
        return await self.execute(row, run_id)

    async def history(self, principal: Principal, schedule_id: str, limit: int = 50) -> list[dict[str, Any]]:
        await self.get(principal, schedule_id)
        return await self.db.read(ss.list_runs, schedule_id, limit)

    # --- running ----------------------------------------------------------------------------

    async def tick(self) -> int:
        """Claim and start every due run; how many this process started."""
        if self.paused:
            return 0
        now = self.clock()
        if now - self._swept_at >= SWEEP_EVERY_MS:
            self._swept_at = now
            # A run pending well past the run timeout lost its process: close it as a timeout.
            grace = int((self.run_timeout + 60) * 1000)
            abandoned = await self.db.write(ss.abandon_stale, now - grace, now)
            if abandoned:
                log.warning("closed %d scheduled run(s) abandoned by a stopped process", abandoned)
        started = 0
        for row in await self.db.read(ss.due, now):
            due_at = row["next_run_at"]
            following = next_run(row["cron"], row["timezone"], max(now, due_at))
            run_id = f"exec_{uuid.uuid4().hex[:16]}"
            try:
                claimed = await self.db.write(ss.claim, row["id"], due_at, run_id, self.holder, now, following)
            except IntegrityError:
                claimed = False
            if not claimed:
                continue
            started += 1
            work = self.execute(row, run_id)
            if self.supervisor is not None:
                self.supervisor.spawn(work, name=f"schedule-run:{row['id']}")
            else:
                await work
        return started

    def _agent(self, agent_id: str | None) -> Any:
        try:
            return self.host.get(agent_id)
        except NotFoundError as exc:
            raise RequestError(exc.message, details={"field": "agentId"}) from None

    def _session_for(self, row: dict[str, Any], run_id: str) -> str:
        mode = row["session_mode"]
        if mode == "ephemeral":
            return f"schedule-{row['id']}-{run_id}"
        if mode == "dedicated":
            return f"schedule-{row['id']}"
        return row["session_id"]

    async def execute(self, row: dict[str, Any], run_id: str) -> dict[str, Any]:
        """Run the schedule's instruction as a turn; record how it went."""
        started = time.monotonic()
        status, error, result = ss.FAILED, None, None
        session_id = self._session_for(row, run_id)
        agent = None
        try:
            agent = self.host.get(row["agent_id"])
            run = await agent.start_run(session_id, row["instruction"], wait=True, owner=row["owner"])
            try:
                await asyncio.wait_for(asyncio.shield(run.wait()), self.run_timeout)
            except asyncio.TimeoutError:
                await agent.cancel(session_id)
                status, error = ss.TIMEOUT, f"the run took longer than {self.run_timeout:g}s"
            else:
                outcome = run.result
                if outcome is not None and outcome.error is None and outcome.finish_reason not in ("error", "cancelled"):
                    status, result = ss.SUCCESS, (outcome.content or "")[:MAX_RESULT_CHARS]
                else:
                    error = (outcome.error.message if outcome is not None and outcome.error is not None
                             else f"the run ended: {outcome.finish_reason if outcome else 'no result'}")
        except Exception as exc:  # noqa: BLE001 - a failed run is recorded, not raised
            error = f"{type(exc).__name__}: {exc}"
            log.warning("schedule %s: run %s failed: %s", row["id"], run_id, error)
        finally:
            if row["session_mode"] == "ephemeral" and agent is not None:
                try:
                    await agent.delete_session(session_id)
                except Exception:  # noqa: BLE001
                    log.warning("schedule %s: could not delete ephemeral session %s", row["id"], session_id)
        duration = int((time.monotonic() - started) * 1000)
        await self.db.write(ss.finish_run, row["id"], run_id, status, self.clock(), duration, error, result)
        return await self.db.read(ss.get_run, run_id) or {}
