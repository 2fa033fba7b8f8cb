"""A session's model context and system prompt: clear-context (a fresh model context, the
history kept for the user), generate-title, and the system-prompt contributors of the agent
(`/api/system-prompt/contributors`, admin: every session's prompt changes) and of one session
(`/api/sessions/{id}/system-prompt/contributors`, its owner). Run-time contributors are kept
in memory until the agent stops (runtime/system_prompt.py)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from fastapi import Request
from pydantic import (BaseModel, ConfigDict, Field, GetJsonSchemaHandler, TypeAdapter, ValidationInfo,
                      field_validator)

from switchyard.server.deps import agent_for, sessions_for
from switchyard.server.routes import RouteGroup
from switchyard.server.schemas import SessionId

routes = RouteGroup(tags=["context"], order=90)


class _Contributor(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    # Sanitised as the reference does (runtime/system_prompt.py): it must keep a character.
    id: str = Field(min_length=1, max_length=200, pattern=r"[A-Za-z0-9._]")
    priority: Annotated[float, Field(ge=0, le=1_000_000)] | None = None   # truncated to an integer


class ContributorUpsert(_Contributor):
    """Add or replace a contributor (`enabled` true or left out): `content` is required."""

    enabled: Literal[True] | None = None
    content: str = Field(min_length=1, pattern=r"\S")


class ContributorRemoval(_Contributor):
    """Remove a contributor: `enabled: false`."""

    enabled: Literal[False]
    content: str | None = None


class ContributorClear(_Contributor):
    """Agent-wide only, as the reference: an explicitly empty `content` (with `enabled` left
    out) removes the contributor too."""

    enabled: None = None
    content: Literal[""]


class SessionContributorBody(_Contributor):
    """Validated as one model, so that an error names the field (`content`); documented as
    what it is, one of the variants above."""

    EMPTY_CONTENT_REMOVES: ClassVar[bool] = False
    VARIANTS: ClassVar[Any] = Union[ContributorUpsert, ContributorRemoval]

    enabled: bool | None = None
    content: str | None = Field(None, validate_default=True)

    @field_validator("content")
    @classmethod
    def _content_unless_removing(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("enabled") is False or (
                cls.EMPTY_CONTENT_REMOVES and info.data.get("enabled") is None and value == ""):
            return value
        if value is None or not value.strip():
            raise ValueError("must not be empty unless `enabled` is false")
        return value

    @classmethod
    def __get_pydantic_json_schema__(cls, core: Any, handler: GetJsonSchemaHandler) -> Any:
        return handler(TypeAdapter(cls.VARIANTS).core_schema)

    @property
    def removes(self) -> bool:
        return self.enabled is False or (self.EMPTY_CONTENT_REMOVES and self.enabled is None and self.content == "")


class ContributorBody(SessionContributorBody):
    EMPTY_CONTENT_REMOVES: ClassVar[bool] = True
    VARIANTS: ClassVar[Any] = Union[ContributorUpsert, ContributorRemoval, ContributorClear]


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


def _priority(body: _Contributor) -> int | None:
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
async def set_session_contributor(request: Request, session_id: SessionId,
                                  body: SessionContributorBody) -> dict[str, Any]:
    return await sessions_for(request).set_contributor(
        session_id, body.id, enabled=not body.removes, content=body.content, priority=_priority(body))


@routes.get("/api/system-prompt/contributors", scope="read", response_model=ContributorList, errors=(404,),
            summary="What the agent's system prompt is built from")
async def contributors(request: Request) -> dict[str, Any]:
    agent = agent_for(request)
    if agent.session_state is not None:   # replicas: as shared in Redis
        await agent.session_state.refresh_agent_contributors()
    return {"contributors": agent.prompt.contributors()}


@routes.post("/api/system-prompt/contributors", scope="admin", response_model=ContributorChange, errors=(404,),
             summary="Add, replace or remove a contributor of the agent's system prompt (every session)")
async def set_contributor(request: Request, body: ContributorBody) -> dict[str, Any]:
    agent = agent_for(request)
    state = agent.session_state
    if state is not None:
        await state.refresh_agent_contributors()
    result = (agent.prompt.remove(body.id) if body.removes
              else agent.prompt.upsert(body.id, body.content or "", _priority(body)))
    if state is not None:
        await state.agent_contributor_changed(result["id"])
    return result
