"""Schedules: the reference's routes (list, create, update, delete, trigger now), persisted and
owned by the key that made them, plus the run history (GET /api/schedules/{id}/runs).
Cron, time zones, session modes and the once-per-due-time guarantee: automation/scheduler.py.
Reads need `read`; changes `admin` (the scope table)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query, Request
from pydantic import BaseModel, ConfigDict, Field

from switchyard.automation.schedules import execution_view, schedule_view
from switchyard.server.automation import automation_of
from switchyard.server.deps import principal_of
from switchyard.server.routes import RouteGroup
from switchyard.server.schemas import SessionId

routes = RouteGroup(tags=["schedules"], order=95)

SessionMode = Literal["ephemeral", "dedicated", "inherit", "fixed"]


class ScheduleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    instruction: str = Field(min_length=1, max_length=100_000)
    cronExpression: str = Field(min_length=1, max_length=200)
    timezone: str = Field("UTC", min_length=1, max_length=64)
    enabled: bool = True
    workspacePath: str | None = Field(None, max_length=1000)
    sessionMode: SessionMode = "dedicated"
    sessionId: SessionId | None = None
    agentId: str | None = None
    metadata: dict[str, Any] | None = None


class SchedulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    instruction: str | None = Field(None, min_length=1, max_length=100_000)
    cronExpression: str | None = Field(None, min_length=1, max_length=200)
    timezone: str | None = Field(None, min_length=1, max_length=64)
    enabled: bool | None = None
    workspacePath: str | None = Field(None, max_length=1000)


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class Task(_Out):
    instruction: str
    metadata: dict[str, Any] | None = None


class ScheduleOut(_Out):
    id: str
    name: str
    cronExpression: str
    timezone: str
    enabled: bool
    task: Task
    sessionMode: SessionMode
    sessionId: str | None = None
    workspacePath: str | None = None
    createdAt: int
    updatedAt: int
    lastRunAt: int | None = None
    nextRunAt: int | None = None
    runCount: int
    successCount: int
    failureCount: int
    lastError: str | None = None
    agentId: str


class Execution(_Out):
    id: str
    scheduleId: str
    triggeredAt: int
    completedAt: int | None = None
    status: Literal["pending", "success", "failed", "timeout"]
    duration: int | None = None
    error: str | None = None
    result: str | None = None


class ScheduleOne(_Out):
    schedule: ScheduleOut


class ScheduleList(_Out):
    schedules: list[ScheduleOut]


class ScheduleDeleted(_Out):
    deleted: bool


class Triggered(_Out):
    scheduled: bool
    execution: Execution | None = None


class RunHistory(_Out):
    runs: list[Execution]


@routes.get("/api/schedules", scope="read", response_model=ScheduleList, summary="The caller's schedules")
async def list_schedules(request: Request) -> dict[str, Any]:
    rows = await automation_of(request).schedules.list(principal_of(request))
    return {"schedules": [schedule_view(r) for r in rows]}


@routes.post("/api/schedules", scope="admin", status_code=201, response_model=ScheduleOne, errors=(429,),
             summary="Create a schedule (cron expression in a time zone)")
async def create_schedule(request: Request, body: ScheduleBody) -> dict[str, Any]:
    row = await automation_of(request).schedules.create(
        principal_of(request), name=body.name, instruction=body.instruction, cron=body.cronExpression,
        timezone=body.timezone, enabled=body.enabled, workspace_path=body.workspacePath,
        session_mode=body.sessionMode, session_id=body.sessionId, agent_id=body.agentId, metadata=body.metadata)
    return {"schedule": schedule_view(row)}


@routes.patch("/api/schedules/{scheduleId}", scope="admin", response_model=ScheduleOne, errors=(404,),
              summary="Change a schedule")
async def update_schedule(request: Request, scheduleId: str, body: SchedulePatch) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    row = await automation_of(request).schedules.update(principal_of(request), scheduleId, changes)
    return {"schedule": schedule_view(row)}


@routes.delete("/api/schedules/{scheduleId}", scope="admin", response_model=ScheduleDeleted, errors=(404,),
               summary="Delete a schedule and its history")
async def delete_schedule(request: Request, scheduleId: str) -> dict[str, Any]:
    await automation_of(request).schedules.delete(principal_of(request), scheduleId)
    return {"deleted": True}


@routes.post("/api/schedules/{scheduleId}/trigger", scope="admin", response_model=Triggered, errors=(404,),
             summary="Run a schedule now and wait for the run")
async def trigger_schedule(request: Request, scheduleId: str) -> dict[str, Any]:
    execution = await automation_of(request).schedules.trigger(principal_of(request), scheduleId)
    return {"scheduled": True, "execution": execution_view(execution)}


@routes.get("/api/schedules/{scheduleId}/runs", scope="read", response_model=RunHistory, errors=(404,),
            summary="The schedule's runs, newest first")
async def schedule_runs(request: Request, scheduleId: str,
                        limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    rows = await automation_of(request).schedules.history(principal_of(request), scheduleId, limit)
    return {"runs": [execution_view(r) for r in rows]}
