"""Sessions: list, create, read, rename, delete, fork, history, cancel, re-attach, load."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Request
from starlette.responses import JSONResponse, Response

from switchyard.errors import ConflictError
from switchyard.server.deps import sessions_for
from switchyard.server.response_models import (CancelResult, SessionDeleted, SessionDetailResult,
                                               SessionHistory, SessionList, SessionLoad, SessionResult)
from switchyard.server.routes import RouteGroup
from switchyard.server.schemas import CancelBody, CreateSessionBody, PatchSessionBody, SessionId
from switchyard.server.sse import event_stream

routes = RouteGroup(tags=["sessions"], order=40)


def metadata(session: dict[str, Any]) -> dict[str, Any]:
    """The reference's SessionMetadata shape."""
    return {
        "id": session["id"],
        "createdAt": session["createdAt"],
        "lastActivity": session["lastActivity"],
        "messageCount": session["messageCount"],
        "title": session["title"],
        "tokenUsage": session["tokenUsage"],
        "workspaceId": None,
        "parentSessionId": session["parentSessionId"],
        "agentId": session["agentId"],
    }


@routes.get("/api/sessions", scope="read", response_model=SessionList, errors=(404,), summary="List sessions")
async def list_sessions(request: Request) -> dict[str, Any]:
    sessions = await sessions_for(request).list_visible()
    return {"sessions": [metadata(s) for s in sessions]}


@routes.post("/api/sessions", scope="chat", status_code=201, response_model=SessionResult, errors=(404,),
              summary="Create a session (idempotent for an existing id)")
async def create_session(request: Request, body: CreateSessionBody | None = Body(None)) -> JSONResponse:
    body = body or CreateSessionBody()
    session = await sessions_for(request, body.agentId).create(body.sessionId)
    return JSONResponse({"session": metadata(session)}, status_code=201)


@routes.get("/api/sessions/{session_id}", scope="read", response_model=SessionDetailResult, errors=(404,),
             summary="One session")
async def get_session(request: Request, session_id: SessionId) -> dict[str, Any]:
    session = await sessions_for(request).get(session_id)
    return {"session": {**metadata(session), "history": session["messageCount"]}}


@routes.patch("/api/sessions/{session_id}", scope="chat", response_model=SessionResult, errors=(404,),
               summary="Rename a session")
async def patch_session(request: Request, session_id: SessionId, body: PatchSessionBody) -> dict[str, Any]:
    session = await sessions_for(request).rename(session_id, body.title)
    return {"session": metadata(session)}


@routes.delete("/api/sessions/{session_id}", scope="chat", response_model=SessionDeleted, errors=(404,),
                summary="Delete a session and its history")
async def delete_session(request: Request, session_id: SessionId) -> dict[str, Any]:
    await sessions_for(request).delete(session_id)
    return {"status": "deleted", "sessionId": session_id}


@routes.get("/api/sessions/{session_id}/history", scope="read", response_model=SessionHistory, errors=(404,),
             summary="A session's messages")
async def history(request: Request, session_id: SessionId) -> dict[str, Any]:
    sessions = sessions_for(request)
    return {"history": await sessions.history(session_id), "isBusy": await sessions.agent.busy_anywhere(session_id)}


@routes.post("/api/sessions/{session_id}/fork", scope="chat", status_code=201, response_model=SessionResult,
              errors=(404, 409), summary="Copy a session with its history")
async def fork(request: Request, session_id: SessionId) -> JSONResponse:
    child = await sessions_for(request).fork(session_id)
    return JSONResponse({"session": metadata(child)}, status_code=201)


@routes.post("/api/sessions/{session_id}/cancel", scope="chat", response_model=CancelResult, errors=(404,),
              summary="Cancel the running turn")
async def cancel(request: Request, session_id: SessionId, body: CancelBody | None = Body(None)) -> dict[str, Any]:
    access = sessions_for(request)
    cleared = 0
    if body and body.clearQueue:
        await access.get(session_id)
        # A hard cancel: the queued steer and follow-up messages go too (before the running
        # turn ends, or the next one would start from them).
        cleared = sum([await access.agent.queued.queues.clear(q, session_id) for q in ("steer", "follow-up")])
    cancelled = await access.cancel(session_id)
    return {"cancelled": cancelled, "sessionId": session_id, "queueCleared": bool(body and body.clearQueue),
            "clearedCount": cleared}


@routes.get("/api/sessions/{session_id}/events", scope="read", errors=(404, 409),
             summary="Re-attach to a running turn's events (SSE)",
             responses={200: {"content": {"text/event-stream": {}}, "description": "The run's events (SSE)"}})
async def events(request: Request, session_id: SessionId) -> Response:
    try:
        stream = await sessions_for(request).attach(session_id)
    except ConflictError as exc:
        exc.code = "session_not_busy"
        raise
    return event_stream(stream)


@routes.get("/api/sessions/{session_id}/load", scope="read", response_model=SessionLoad, errors=(404,),
             summary="A session with its usage summary")
async def load(request: Request, session_id: SessionId) -> dict[str, Any]:
    sessions = sessions_for(request)
    session = await sessions.get(session_id)
    return {"session": {**metadata(session), "isBusy": await sessions.agent.busy_anywhere(session_id)},
            "usageSummary": {"tokenUsage": session["tokenUsage"], "estimatedCost": 0,
                             "hasUnpricedResponses": session["messageCount"] > 0},
            "activeUsageScopeId": None, "activeUsageScope": None}
