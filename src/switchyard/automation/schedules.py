"""What a schedule is: its cron expression in its time zone, its session mode, its wire shape.

Cron expressions are read by croniter (five fields, or six with seconds; `@hourly`, ...) and
evaluated in the schedule's IANA time zone (zoneinfo), so `0 9 * * *` in Europe/Paris is 09:00
Paris time on both sides of a daylight-saving change.

Session modes (where a scheduled run talks):
- ephemeral: a new session for every run, deleted after it;
- dedicated (the default, as the reference): one session of the schedule's own,
  `schedule-<id>`, so that runs see each other's history;
- inherit: the session the schedule was made from (a scheduler tool's call), kept;
- fixed: the session named by `sessionId`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from switchyard.errors import RequestError

SESSION_MODES = ("ephemeral", "dedicated", "inherit", "fixed")


def check_cron(expression: str, field: str = "cronExpression") -> str:
    from croniter import croniter
    expression = expression.strip()
    if not expression or not croniter.is_valid(expression):
        raise RequestError(f"{field}: {expression!r} is not a valid cron expression (e.g. '0 9 * * 1-5')",
                           code="invalid_cron", details={"field": field})
    return expression


def check_timezone(name: str, field: str = "timezone") -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RequestError(f"{field}: {name!r} is not an IANA time zone (e.g. 'Europe/Paris', 'UTC')",
                           code="invalid_timezone", details={"field": field}) from None
    return name


def next_run(expression: str, zone: str, after_ms: int) -> int:
    """The first time strictly after `after_ms` the expression fires in `zone` (epoch ms)."""
    from croniter import croniter
    start = datetime.fromtimestamp(after_ms / 1000, timezone.utc).astimezone(ZoneInfo(zone))
    following = croniter(expression, start).get_next(datetime)
    return int(following.timestamp() * 1000)


def check_session_mode(mode: str, session_id: str | None) -> None:
    if mode not in SESSION_MODES:
        raise RequestError(f"sessionMode: one of {', '.join(SESSION_MODES)}", details={"field": "sessionMode"})
    if mode in ("fixed", "inherit") and not session_id:
        raise RequestError(f"sessionId: required with sessionMode {mode!r}", details={"field": "sessionId"})


def schedule_view(row: dict[str, Any]) -> dict[str, Any]:
    """The reference's Schedule object (absent optional fields left out), with `agentId`."""
    task: dict[str, Any] = {"instruction": row["instruction"]}
    if row.get("metadata") is not None:
        task["metadata"] = row["metadata"]
    out: dict[str, Any] = {"id": row["id"], "name": row["name"], "cronExpression": row["cron"],
                           "timezone": row["timezone"], "enabled": bool(row["enabled"]), "task": task,
                           "sessionMode": row["session_mode"]}
    for key, column in (("sessionId", "session_id"), ("workspacePath", "workspace_path")):
        if row.get(column) is not None:
            out[key] = row[column]
    out.update(createdAt=row["created_at"], updatedAt=row["updated_at"])
    for key, column in (("lastRunAt", "last_run_at"), ("nextRunAt", "next_run_at")):
        if row.get(column) is not None:
            out[key] = row[column]
    out.update(runCount=row["run_count"], successCount=row["success_count"], failureCount=row["failure_count"])
    if row.get("last_error"):
        out["lastError"] = row["last_error"]
    out["agentId"] = row["agent_id"]
    return out


def execution_view(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row["id"], "scheduleId": row["schedule_id"], "triggeredAt": row["triggered_at"],
                           "status": row["status"]}
    if row.get("completed_at") is not None:
        out["completedAt"] = row["completed_at"]
    if row.get("duration") is not None:
        out["duration"] = row["duration"]
    if row.get("error"):
        out["error"] = row["error"]
    if row.get("result") is not None:
        out["result"] = row["result"]
    return out
