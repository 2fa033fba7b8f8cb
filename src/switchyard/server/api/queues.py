"""Steer and follow-up queues (the reference's /api/steer/* and /api/follow-up/*, which behave
alike): steer guidance joins the running turn at its next step; a follow-up runs as a turn of
its own after it (runtime/queued_input.py). A session the caller may not see is 404, as a
missing one. `agentId` (query) names the agent; the default agent otherwise. With replicas the
queues are in Redis: 503 `shared_state_unavailable` while it is unreachable."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from switchyard.errors import LimitError, NotFoundError, RequestError
from switchyard.llm.base import content_to_text
from switchyard.runtime.queues import QueueName
from switchyard.server.deps import sessions_for
from switchyard.server.replicas import shared_state_doc
from switchyard.server.routes import RouteGroup
from switchyard.server.schemas import Content, SessionId, content_dump
from switchyard.server.settings import settings_of

routes = RouteGroup(tags=["queues"], order=75)


class QueueBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: Content
    kind: Literal["default", "background"] = "default"


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class QueuedOut(_Out):
    id: str
    content: list[dict[str, Any]]
    queuedAt: int
    metadata: dict[str, Any] | None = None
    kind: Literal["default", "background"] | None = None


class QueueList(_Out):
    messages: list[QueuedOut]
    count: int


class Queued(_Out):
    queued: Literal[True]
    id: str
    position: int = Field(description="1-based")


class QueueCleared(_Out):
    cleared: Literal[True]
    count: int


class QueuedRemoved(_Out):
    removed: Literal[True]
    id: str


async def _agent_for(request: Request, session_id: str) -> Any:
    access = sessions_for(request)
    await access.get(session_id)   # 404 when missing or not the caller's
    return access.agent


def _declare(queue: QueueName) -> None:
    base = f"/api/{queue}/{{sessionId}}"
    what = "steer guidance for the running turn" if queue == "steer" else "follow-up messages"
    not_found = "steer_message_not_found" if queue == "steer" else "follow_up_message_not_found"

    @routes.get(base, scope="read", response_model=QueueList, errors=(404,), responses=shared_state_doc(),
                summary=f"The queued {what}")
    async def list_queue(request: Request, sessionId: SessionId) -> dict[str, Any]:
        agent = await _agent_for(request, sessionId)
        items = [m.to_dict() for m in await agent.queued.queues.list(queue, sessionId)]
        return {"messages": items, "count": len(items)}

    @routes.post(base, scope="chat", status_code=201, response_model=Queued, errors=(404, 429),
                 responses=shared_state_doc(), summary=f"Queue {what}")
    async def add_to_queue(request: Request, sessionId: SessionId, body: QueueBody) -> dict[str, Any]:
        content = content_dump(body.content)
        limit = settings_of(request).max_message_chars
        if not content_to_text(content).strip() and not (isinstance(content, list) and content):
            raise RequestError("content: must not be empty", details={"field": "content"})
        if len(content_to_text(content)) > limit:
            raise LimitError(f"content: over the limit of {limit} characters", code="content_too_long",
                             details={"field": "content", "limit": limit})
        agent = await _agent_for(request, sessionId)
        message, position = await agent.queued.add(queue, sessionId, content, kind=body.kind)
        return {"queued": True, "id": message.id, "position": position}

    @routes.delete(base, scope="chat", response_model=QueueCleared, errors=(404,), responses=shared_state_doc(),
                   summary=f"Clear the {what}")
    async def clear_queue(request: Request, sessionId: SessionId) -> dict[str, Any]:
        agent = await _agent_for(request, sessionId)
        return {"cleared": True, "count": await agent.queued.queues.clear(queue, sessionId)}

    @routes.delete(base + "/{messageId}", scope="chat", response_model=QueuedRemoved, errors=(404,),
                   responses=shared_state_doc(),
                   summary="Remove one queued message")
    async def remove_from_queue(request: Request, sessionId: SessionId, messageId: str) -> dict[str, Any]:
        agent = await _agent_for(request, sessionId)
        if not await agent.queued.queues.remove(queue, sessionId, messageId):
            raise NotFoundError(f"No queued {queue} message {messageId!r} in session {sessionId}", code=not_found,
                                details={"messageId": messageId})
        return {"removed": True, "id": messageId}


for _queue in ("steer", "follow-up"):
    _declare(_queue)  # type: ignore[arg-type]
