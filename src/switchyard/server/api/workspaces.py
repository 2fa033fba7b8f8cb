"""Workspaces (the reference's `/api/workspaces`): folders an agent's clients work in, one of
them active. Reading needs `read`; setting or clearing the active one changes it for every
client of the agent, so it needs `admin`. A workspace is a record clients share: it never
widens what the agent's tools may reach (their allowed paths are the agent file's).
`?agentId=` names the agent."""

from __future__ import annotations

import posixpath
import re
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from switchyard.server.deps import agent_for
from switchyard.server.routes import RouteGroup

routes = RouteGroup(tags=["workspaces"], order=95)


class Workspace(BaseModel):
    id: str
    path: str
    name: str | None = None
    createdAt: int
    lastActiveAt: int


class WorkspaceList(BaseModel):
    workspaces: list[Workspace]


class ActiveWorkspace(BaseModel):
    workspace: Workspace | None


ABSOLUTE_PATH = r"^\s*(/|[A-Za-z]:[\\/])[^\x00]*$"   # POSIX or Windows (`C:\\`, `C:/`), no NUL


class SetWorkspaceBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    # The pattern is documented (clients and the fuzz run see it); the validator below checks
    # the same pattern with a message a person can read, not the regex.
    path: str = Field(min_length=1, max_length=1000, description="Absolute workspace root path",
                      json_schema_extra={"pattern": ABSOLUTE_PATH})
    name: str | None = Field(None, min_length=1, max_length=200)

    @field_validator("path")
    @classmethod
    def _absolute(cls, path: str) -> str:
        if not re.match(ABSOLUTE_PATH, path):
            raise ValueError("must be an absolute path (and hold no NUL character)")
        path = path.strip()
        windows = not path.startswith("/")
        # One record per folder: `/a/b/` and `/a/./b` are the same workspace.
        return path if windows else posixpath.normpath(path)


@routes.get("/api/workspaces", scope="read", response_model=WorkspaceList, errors=(404,),
            summary="The agent's workspaces, most recently active first")
async def list_workspaces(request: Request) -> dict[str, Any]:
    agent = agent_for(request)
    return {"workspaces": await agent.store.workspaces.list(agent.id)}


@routes.get("/api/workspaces/active", scope="read", response_model=ActiveWorkspace, errors=(404,),
            summary="The active workspace (null when none)")
async def active_workspace(request: Request) -> dict[str, Any]:
    agent = agent_for(request)
    return {"workspace": await agent.store.workspaces.active(agent.id)}


@routes.post("/api/workspaces/active", scope="admin", response_model=ActiveWorkspace, errors=(404,),
             summary="Make a folder the active workspace (its record is reused when it exists)")
async def set_workspace(request: Request, body: SetWorkspaceBody) -> dict[str, Any]:
    agent = agent_for(request)
    return {"workspace": await agent.store.workspaces.set_active(agent.id, body.path, body.name)}


@routes.delete("/api/workspaces/active", scope="admin", response_model=ActiveWorkspace, errors=(404,),
               summary="No active workspace (the records stay)")
async def clear_workspace(request: Request) -> dict[str, Any]:
    agent = agent_for(request)
    await agent.store.workspaces.clear(agent.id)
    return {"workspace": None}
