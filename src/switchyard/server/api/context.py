"""A session's model context and system prompt: clear-context (a fresh model context, the
history kept for the user), generate-title, and the system-prompt contributors of the agent
(`/api/system-prompt/contributors`, admin: every session's prompt changes) and of one session
(`/api/sessions/{id}/system-prompt/contributors`, its owner). Run-time contributors are kept
in memory until the agent stops (runtime/system_prompt.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from switchyard.server.deps import agent_for, sessions_for
from switchyard.server.routes import RouteGroup
from switchyard.server.schemas import SessionId

routes = RouteGroup(tags=["context"], order=90)


class ContributorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=200)
    priority: Annotated[float, Field(ge=0, le=1_000_000)] | None = None   # truncated to an integer
    enabled: bool | None = None
    content: str | None = None


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class ContextCleared(_Body):
    status: Literal["context cleared"]
    sessionId: str


class TitleResult(_Body):
    title: str | None
    sessionId: str


class ContributorRef(_Body):
    id: str
    priority: int


class ContributorList(_Body):
    contributors: list[ContributorRef]


class ContributorChange(_Body):
    id: str
    enabled: bool
    priority: int | None = None
    replaced: bool | None = None
    removed: bool | None = None
    contentLength: int | None = None
    truncated: bool | None = None


def _priority(body: ContributorBody) -> int | None:
    return None if body.priority is None else int(body.priority)


@routes.post("/api/sessions/{session_id}/clear-context", scope="chat", response_model=ContextCleared,
             errors=(404, 409), summary="Start a fresh model context (the history is kept)")
async def clear_context(request: Request, session_id: SessionId) -> dict[str, Any]:
    await sessions_for(request).clear_context(session_id)
    return {"status": "context cleared", "sessionId": session_id}


@routes.post("/api/sessions/{session_id}/generate-title", scope="chat", response_model=TitleResult,
             errors=(404,), summary="Name the session from its conversation")
async def generate_title(request: Request, session_id: SessionId) -> dict[str, Any]:
    title = await sessions_for(request).generate_title(session_id)
    return {"title": title, "sessionId": session_id}


@routes.get("/api/sessions/{session_id}/system-prompt/contributors", scope="read",
            response_model=ContributorList, errors=(404,), summary="What the session's system prompt is built from")
async def session_contributors(request: Request, session_id: SessionId) -> dict[str, Any]:
    return {"contributors": await sessions_for(request).contributors(session_id)}


@routes.post("/api/sessions/{session_id}/system-prompt/contributors", scope="chat",
             response_model=ContributorChange, errors=(404,),
             summary="Add, replace or (enabled: false) remove one of the session's contributors")
async def set_session_contributor(request: Request, session_id: SessionId, body: ContributorBody) -> dict[str, Any]:
    return await sessions_for(request).set_contributor(
        session_id, body.id, enabled=body.enabled is not False, content=body.content, priority=_priority(body))


@routes.get("/api/system-prompt/contributors", scope="read", response_model=ContributorList, errors=(404,),
            summary="What the agent's system prompt is built from")
async def contributors(request: Request) -> dict[str, Any]:
    return {"contributors": agent_for(request).prompt.contributors()}


@routes.post("/api/system-prompt/contributors", scope="admin", response_model=ContributorChange, errors=(404,),
             summary="Add, replace or remove a contributor of the agent's system prompt (every session)")
async def set_contributor(request: Request, body: ContributorBody) -> dict[str, Any]:
    prompt = agent_for(request).prompt
    # As the reference: `enabled: false`, or an explicitly empty content with `enabled` unset, removes.
    if body.enabled is False or (body.enabled is None and body.content is not None and body.content == ""):
        return prompt.remove(body.id)
    return prompt.upsert(body.id, body.content or "", _priority(body))
