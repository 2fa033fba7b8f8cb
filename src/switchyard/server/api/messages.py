"""Messages: async (202), sync, and streamed over SSE; and reset."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, Response

from switchyard.errors import ConflictError, LimitError
from switchyard.ids import new_id
from switchyard.llm.base import content_to_text
from switchyard.runtime.agent import QUEUED_TURNS, Agent
from switchyard.server.deps import message_agent, sessions_for
from switchyard.server.replicas import shared_state_doc
from switchyard.server.response_models import MessageAccepted, MessageSyncResult, ResetResult, SessionBusy
from switchyard.server.routes import RouteGroup
from switchyard.server.routing_glue import routing_events
from switchyard.server.schemas import MessageBody, ResetBody, content_dump
from switchyard.server.settings import settings_of
from switchyard.server.sse import event_stream
from switchyard.server.wire import routing_payload

log = logging.getLogger("switchyard.server")
routes = RouteGroup(tags=["messages"], order=30)

BUSY_HINT = ("Use POST /api/follow-up/{sessionId} to queue a follow-up message, or wait for the current "
             "request to complete (re-attach with GET /api/sessions/{sessionId}/events).")


def _checked_content(body: MessageBody, limit: int) -> Any:
    content = content_dump(body.content)
    size = len(content_to_text(content))
    if size > limit:
        raise LimitError(f"content: {size} characters is over the limit of {limit} "
                         "(SWITCHYARD_MAX_MESSAGE_CHARS)", code="content_too_long",
                         details={"field": "content", "limit": limit})
    return content


async def _prepare(request: Request, body: MessageBody) -> tuple[Agent, Any, str | None]:
    """The agent, the checked content, and the owner to record on a session the run creates
    (after checking that an existing session is the caller's)."""
    # Before routing: an oversized message is refused unrouted.
    content = _checked_content(body, settings_of(request).max_message_chars)
    agent = await message_agent(request, body.agentId, content, body.sessionId)
    sessions = sessions_for(request, agent)
    await sessions.ensure_may_send(body.sessionId)
    return agent, content, sessions.owner


@routes.post("/api/message", scope="chat", runs=True, status_code=202, response_model=MessageAccepted,
             errors=(404,), responses=shared_state_doc(), summary="Send a message; the run goes on in the background")
async def send_message(request: Request, body: MessageBody) -> JSONResponse:
    agent, content, owner = await _prepare(request, body)
    session_id = body.sessionId or new_id()
    first = routing_events(request, session_id)
    if await agent.busy_anywhere(session_id):
        # Queue behind the running turn instead of refusing: the caller asked for fire-and-forget.
        # The agent's supervisor holds it and logs a failure to start. It counts against the
        # key's run cap from now (429 here when the key is at its cap), not from when it starts.
        slot = await agent.reserve_run(owner)
        agent.supervisor.spawn(agent.start_run(session_id, content, wait=True, owner=owner, first=first,
                                               slot=slot),
                               name=f"queued-turn:{session_id}", group=QUEUED_TURNS)
    else:
        await agent.start_run(session_id, content, wait=True, owner=owner, first=first)
    return JSONResponse({"accepted": True, "sessionId": session_id}, status_code=202)


@routes.post("/api/message-sync", scope="chat", runs=True, response_model=MessageSyncResult,
             errors=(404, 409, 502), responses=shared_state_doc(), summary="Send a message and wait for the answer")
async def send_message_sync(request: Request, body: MessageBody) -> dict[str, Any]:
    agent, content, owner = await _prepare(request, body)
    session_id = body.sessionId or new_id()
    first = routing_events(request, session_id)
    result = await agent.generate(session_id, content, wait=False, owner=owner, first=first)
    if first:
        result["routing"] = routing_payload(first[0])
    result["agentId"] = agent.id
    return result


@routes.post("/api/message-stream", scope="chat", runs=True, errors=(404,),
             summary="Send a message and stream the run over SSE",
             responses={200: {"content": {"text/event-stream": {}}, "description": "The run's events (SSE)"},
                        202: {"model": SessionBusy, "description": "The session is busy"}, **shared_state_doc()})
async def send_message_stream(request: Request, body: MessageBody) -> Response:
    agent, content, owner = await _prepare(request, body)
    session_id = body.sessionId or new_id()
    try:
        run = await agent.start_run(session_id, content, wait=False, owner=owner,
                                    first=routing_events(request, session_id))
    except ConflictError:
        return JSONResponse({"busy": True, "sessionId": body.sessionId, "queueLength": 1,
                             "hint": BUSY_HINT}, status_code=202)
    return event_stream(run.follow())


@routes.post("/api/reset", scope="chat", response_model=ResetResult, errors=(404, 409),
             summary="Clear a session's conversation")
async def reset(request: Request, body: ResetBody) -> dict[str, Any]:
    await sessions_for(request, body.agentId).reset(body.sessionId)
    return {"status": "reset initiated", "sessionId": body.sessionId}
