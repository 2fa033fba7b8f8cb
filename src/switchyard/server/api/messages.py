"""Messages: async (202), sync, and streamed over SSE; and reset."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from switchyard.errors import ConflictError, LimitError
from switchyard.ids import new_id
from switchyard.llm.base import content_to_text
from switchyard.server.deps import (agent_for, ensure_session_access, message_agent, owner_of,
                                    visible_session)
from switchyard.server.schemas import MessageBody, ResetBody, content_dump
from switchyard.server.routing_glue import routing_events
from switchyard.server.sse import event_stream
from switchyard.server.wire import routing_payload

log = logging.getLogger("switchyard.server")
router = APIRouter(tags=["messages"])

DEFAULT_MAX_MESSAGE_CHARS = 200_000
BUSY_HINT = ("Wait for the current run to complete, or re-attach to it with "
             "GET /api/sessions/{sessionId}/events.")


def max_message_chars() -> int:
    return int(os.environ.get("SWITCHYARD_MAX_MESSAGE_CHARS", DEFAULT_MAX_MESSAGE_CHARS))


def _checked_content(body: MessageBody) -> Any:
    content = content_dump(body.content)
    size = len(content_to_text(content))
    limit = max_message_chars()
    if size > limit:
        raise LimitError(f"content: {size} characters is over the limit of {limit} "
                         "(SWITCHYARD_MAX_MESSAGE_CHARS)", code="content_too_long",
                         details={"field": "content", "limit": limit})
    return content


async def _prepare(request: Request, body: MessageBody):  # noqa: ANN202
    content = _checked_content(body)  # before routing: an oversized message is refused unrouted
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


@router.post("/api/message", status_code=202, summary="Send a message; the run goes on in the background")
async def send_message(request: Request, body: MessageBody) -> JSONResponse:
    agent, content = await _prepare(request, body)
    session_id = body.sessionId or new_id()
    first = routing_events(request, session_id)
    if agent.is_busy(session_id):
        # Queue behind the running turn instead of refusing: the caller asked for fire-and-forget.
        task = asyncio.create_task(agent.start_run(session_id, content, wait=True, owner=owner_of(request),
                                                   first=first))
        _background.add(task)
        task.add_done_callback(_queued_done)
    else:
        await agent.start_run(session_id, content, wait=True, owner=owner_of(request), first=first)
    return JSONResponse({"accepted": True, "sessionId": session_id}, status_code=202)


@router.post("/api/message-sync", summary="Send a message and wait for the answer")
async def send_message_sync(request: Request, body: MessageBody) -> dict[str, Any]:
    agent, content = await _prepare(request, body)
    session_id = body.sessionId or new_id()
    first = routing_events(request, session_id)
    result = await agent.generate(session_id, content, wait=False, owner=owner_of(request), first=first)
    if first:
        result["routing"] = routing_payload(first[0])
    result["agentId"] = agent.id
    return result


@router.post("/api/message-stream", summary="Send a message and stream the run over SSE",
             responses={200: {"content": {"text/event-stream": {}}}, 202: {"description": "session busy"}})
async def send_message_stream(request: Request, body: MessageBody) -> Response:
    agent, content = await _prepare(request, body)
    session_id = body.sessionId or new_id()
    try:
        run = await agent.start_run(session_id, content, wait=False, owner=owner_of(request),
                                    first=routing_events(request, session_id))
    except ConflictError:
        return JSONResponse({"busy": True, "sessionId": body.sessionId, "queueLength": 1,
                             "hint": BUSY_HINT}, status_code=202)
    return event_stream(run.follow())


@router.post("/api/reset", summary="Clear a session's conversation")
async def reset(request: Request, body: ResetBody) -> dict[str, Any]:
    agent = agent_for(request, body.agentId)
    await visible_session(request, agent, body.sessionId)
    await agent.reset(body.sessionId)
    return {"status": "reset initiated", "sessionId": body.sessionId}
