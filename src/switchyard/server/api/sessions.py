"""Sessions: list, create, read, rename, delete, fork, history, cancel, re-attach, load."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Request
from starlette.responses import JSONResponse, Response

from switchyard.errors import ConflictError
from switchyard.server.deps import agent_for, check_owner, owner_filter, owner_of, visible_session
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
    agent = agent_for(request)
    sessions = await agent.list_sessions(owner=owner_filter(request))
    return {"sessions": [metadata(s) for s in sessions]}


@routes.post("/api/sessions", scope="chat", status_code=201, response_model=SessionResult, errors=(404,),
              summary="Create a session (idempotent for an existing id)")
async def create_session(request: Request, body: CreateSessionBody | None = Body(None)) -> JSONResponse:
    body = body or CreateSessionBody()
    agent = agent_for(request, body.agentId)
    if body.sessionId:
        existing = await agent.store.sessions.get(agent.id, body.sessionId)
        if existing is not None:
            check_owner(request, existing)
            return JSONResponse({"session": metadata(existing)}, status_code=201)
    session, _ = await agent.create_session(body.sessionId, owner=owner_of(request))
    return JSONResponse({"session": metadata(session)}, status_code=201)


@routes.get("/api/sessions/{session_id}", scope="read", response_model=SessionDetailResult, errors=(404,),
             summary="One session")
async def get_session(request: Request, session_id: SessionId) -> dict[str, Any]:
    agent = agent_for(request)
    session = await visible_session(request, agent, session_id)
    return {"session": {**metadata(session), "history": session["messageCount"]}}


@routes.patch("/api/sessions/{session_id}", scope="chat", response_model=SessionResult, errors=(404,),
               summary="Rename a session")
async def patch_session(request: Request, session_id: SessionId, body: PatchSessionBody) -> dict[str, Any]:
    agent = agent_for(request)
    await visible_session(request, agent, session_id)
    session = await agent.set_title(session_id, body.title)
    return {"session": metadata(session)}


@routes.delete("/api/sessions/{session_id}", scope="chat", response_model=SessionDeleted, errors=(404,),
                summary="Delete a session and its history")
async def delete_session(request: Request, session_id: SessionId) -> dict[str, Any]:
    agent = agent_for(request)
    existing = await agent.store.sessions.get(agent.id, session_id)
    if existing is not None:
        check_owner(request, existing)
        await agent.delete_session(session_id)
    return {"status": "deleted", "sessionId": session_id}


@routes.get("/api/sessions/{session_id}/history", scope="read", response_model=SessionHistory, errors=(404,),
             summary="A session's messages")
async def history(request: Request, session_id: SessionId) -> dict[str, Any]:
    agent = agent_for(request)
    await visible_session(request, agent, session_id)
    return {"history": await agent.history(session_id), "isBusy": agent.is_busy(session_id)}


@routes.post("/api/sessions/{session_id}/fork", scope="chat", status_code=201, response_model=SessionResult,
              errors=(404, 409), summary="Copy a session with its history")
async def fork(request: Request, session_id: SessionId) -> JSONResponse:
    agent = agent_for(request)
    await visible_session(request, agent, session_id)
    child = await agent.fork_session(session_id, owner=owner_of(request))
    return JSONResponse({"session": metadata(child)}, status_code=201)


@routes.post("/api/sessions/{session_id}/cancel", scope="chat", response_model=CancelResult, errors=(404,),
              summary="Cancel the running turn")
async def cancel(request: Request, session_id: SessionId, body: CancelBody | None = Body(None)) -> dict[str, Any]:
    agent = agent_for(request)
    await visible_session(request, agent, session_id)
    cancelled = await agent.cancel(session_id)
    return {"cancelled": cancelled, "sessionId": session_id, "queueCleared": bool(body and body.clearQueue),
            "clearedCount": 0}


@routes.get("/api/sessions/{session_id}/events", scope="read", errors=(404, 409),
             summary="Re-attach to a running turn's events (SSE)",
             responses={200: {"content": {"text/event-stream": {}}, "description": "The run's events (SSE)"}})
async def events(request: Request, session_id: SessionId) -> Response:
    agent = agent_for(request)
    await visible_session(request, agent, session_id)
    try:
        stream = agent.attach(session_id)
    except ConflictError as exc:
        exc.code = "session_not_busy"
        raise
    return event_stream(stream)


@routes.get("/api/sessions/{session_id}/load", scope="read", response_model=SessionLoad, errors=(404,),
             summary="A session with its usage summary")
async def load(request: Request, session_id: SessionId) -> dict[str, Any]:
    agent = agent_for(request)
    session = await visible_session(request, agent, session_id)
    return {"session": {**metadata(session), "isBusy": agent.is_busy(session_id)},
            "usageSummary": {"tokenUsage": session["tokenUsage"], "estimatedCost": 0,
                             "hasUnpricedResponses": session["messageCount"] > 0},
            "activeUsageScopeId": None, "activeUsageScope": None}
