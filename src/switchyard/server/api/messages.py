"""Messages: async (202), sync, and streamed over SSE; and reset."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, Response

from switchyard.errors import ConflictError, LimitError
from switchyard.llm.base import content_to_text
from switchyard.server.deps import (agent_for, ensure_session_access, message_agent, owner_of,
                                    visible_session)
from switchyard.server.response_models import MessageAccepted, MessageSyncResult, ResetResult, SessionBusy
from switchyard.server.routes import RouteGroup
from switchyard.server.schemas import MessageBody, ResetBody, content_dump
from switchyard.server.settings import settings_of
from switchyard.server.sse import event_stream

log = logging.getLogger("switchyard.server")
routes = RouteGroup(tags=["messages"], order=30)

BUSY_HINT = ("Wait for the current run to complete, or re-attach to it with "
             "GET /api/sessions/{sessionId}/events.")


def _checked_content(body: MessageBody, limit: int) -> Any:
    content = content_dump(body.content)
    size = len(content_to_text(content))
    if size > limit:
        raise LimitError(f"content: {size} characters is over the limit of {limit} "
                         "(SWITCHYARD_MAX_MESSAGE_CHARS)", code="content_too_long",
                         details={"field": "content", "limit": limit})
    return content


async def _prepare(request: Request, body: MessageBody):  # noqa: ANN202
    # Before routing: an oversized message is refused unrouted.
    content = _checked_content(body, settings_of(request).max_message_chars)
    agent = await message_agent(request, body.agentId, content, body.sessionId)
    await ensure_session_access(request, agent, body.sessionId)
    return agent, content


# Turns queued behind a running one (POST /api/message on a busy session): held here so that
# they are not garbage-collected, and their failures are logged rather than lost.
_background: set[asyncio.Task[Any]] = set()


def _queued_done(task: asyncio.Task[Any]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("a queued turn could not start: %s", task.exception())


@routes.post("/api/message", scope="chat", runs=True, status_code=202, response_model=MessageAccepted,
             errors=(404,), summary="Send a message; the run goes on in the background")
async def send_message(request: Request, body: MessageBody) -> JSONResponse:
    agent, content = await _prepare(request, body)
    session_id = body.sessionId or str(uuid.uuid4())
    if agent.is_busy(session_id):
        # Queue behind the running turn instead of refusing: the caller asked for fire-and-forget.
        task = asyncio.create_task(agent.start_run(session_id, content, wait=True, owner=owner_of(request)))
        _background.add(task)
        task.add_done_callback(_queued_done)
    else:
        await agent.start_run(session_id, content, wait=True, owner=owner_of(request))
    return JSONResponse({"accepted": True, "sessionId": session_id}, status_code=202)


@routes.post("/api/message-sync", scope="chat", runs=True, response_model=MessageSyncResult,
             errors=(404, 409, 502), summary="Send a message and wait for the answer")
async def send_message_sync(request: Request, body: MessageBody) -> dict[str, Any]:
    agent, content = await _prepare(request, body)
    result = await agent.generate(body.sessionId, content, wait=False, owner=owner_of(request))
    routing = request.scope.get("switchyard.routing")
    if routing is not None:
        result["routing"] = routing
    result["agentId"] = agent.id
    return result


@routes.post("/api/message-stream", scope="chat", runs=True, errors=(404,),
             summary="Send a message and stream the run over SSE",
             responses={200: {"content": {"text/event-stream": {}}, "description": "The run's events (SSE)"},
                        202: {"model": SessionBusy, "description": "The session is busy"}})
async def send_message_stream(request: Request, body: MessageBody) -> Response:
    agent, content = await _prepare(request, body)
    try:
        run = await agent.start_run(body.sessionId, content, wait=False, owner=owner_of(request))
    except ConflictError:
        return JSONResponse({"busy": True, "sessionId": body.sessionId, "queueLength": 1,
                             "hint": BUSY_HINT}, status_code=202)
    first = request.scope.get("switchyard.routing_frame")
    return event_stream(run.follow(), first=[first] if first else None)


@routes.post("/api/reset", scope="chat", response_model=ResetResult, errors=(404, 409),
             summary="Clear a session's conversation")
async def reset(request: Request, body: ResetBody) -> dict[str, Any]:
    agent = agent_for(request, body.agentId)
    await visible_session(request, agent, body.sessionId)
    await agent.reset(body.sessionId)
    return {"status": "reset initiated", "sessionId": body.sessionId}
