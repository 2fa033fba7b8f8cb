"""The scheduler's own tools, for agents whose file lists `tools: [{type: scheduler-tools}]`:
`create_schedule`, `list_schedules`, `update_schedule`, `delete_schedule`.

They call the same ScheduleService as the REST routes, as the calling session's owner (a key
sees and changes only its own schedules), for the calling agent. A schedule made from a
session with `sessionMode: inherit` runs in that session.
"""

from __future__ import annotations

import json
from typing import Any

from switchyard.automation.scheduler import ScheduleService
from switchyard.automation.schedules import SESSION_MODES, schedule_view
from switchyard.errors import SwitchyardError, ToolError
from switchyard.principal import Principal
from switchyard.tools.base import FunctionTool, ToolResult
from switchyard.tools.context import ToolCallContext

_ID = {"scheduleId": {"type": "string", "description": "the schedule's id (from list_schedules)"}}


def _caller(context: ToolCallContext) -> Principal:
    # No owner (authentication off): the development caller, who sees every schedule.
    return Principal(context.owner, frozenset({"read", "chat"}), is_root=context.owner is None)


def _json(value: Any) -> ToolResult:
    return ToolResult.text(json.dumps(value, indent=1))


def scheduler_tools(service: ScheduleService) -> list[FunctionTool]:
    async def create_schedule(name: str, instruction: str, cronExpression: str, context: ToolCallContext,
                              timezone: str = "UTC", sessionMode: str = "dedicated") -> ToolResult:
        try:
            row = await service.create(_caller(context), name=name, instruction=instruction, cron=cronExpression,
                                       timezone=timezone, session_mode=sessionMode,
                                       session_id=context.session_id if sessionMode == "inherit" else None,
                                       agent_id=context.agent_id)
        except SwitchyardError as exc:
            raise ToolError(exc.message) from None
        return _json(schedule_view(row))

    async def list_schedules(context: ToolCallContext) -> ToolResult:
        rows = await service.list(_caller(context))
        return _json([schedule_view(r) for r in rows if r["agent_id"] == context.agent_id])

    async def update_schedule(scheduleId: str, context: ToolCallContext, enabled: bool | None = None,
                              cronExpression: str | None = None, timezone: str | None = None,
                              instruction: str | None = None, name: str | None = None) -> ToolResult:
        changes = {k: v for k, v in (("enabled", enabled), ("cronExpression", cronExpression),
                                     ("timezone", timezone), ("instruction", instruction), ("name", name))
                   if v is not None}
        try:
            row = await service.update(_caller(context), scheduleId, changes)
        except SwitchyardError as exc:
            raise ToolError(exc.message) from None
        return _json(schedule_view(row))

    async def delete_schedule(scheduleId: str, context: ToolCallContext) -> ToolResult:
        try:
            await service.delete(_caller(context), scheduleId)
        except SwitchyardError as exc:
            raise ToolError(exc.message) from None
        return ToolResult.text(f"deleted {scheduleId}")

    text = {"type": "string"}
    return [
        FunctionTool(create_schedule, description="Schedule an instruction to run on a cron expression "
                     "(e.g. '0 9 * * 1-5') in a time zone.", input_schema={
                         "type": "object", "required": ["name", "instruction", "cronExpression"],
                         "properties": {"name": text, "instruction": text, "cronExpression": text,
                                        "timezone": {"type": "string", "description": "IANA zone, default UTC"},
                                        "sessionMode": {"type": "string", "enum": list(SESSION_MODES)}}}),
        FunctionTool(list_schedules, description="List this agent's schedules.",
                     input_schema={"type": "object", "properties": {}}),
        FunctionTool(update_schedule, description="Change a schedule: enable or disable it, its time or task.",
                     input_schema={"type": "object", "required": ["scheduleId"], "properties": {
                         **_ID, "enabled": {"type": "boolean"}, "cronExpression": text, "timezone": text,
                         "instruction": text, "name": text}}),
        FunctionTool(delete_schedule, description="Delete a schedule.",
                     input_schema={"type": "object", "required": ["scheduleId"], "properties": _ID}),
    ]
