"""Health, the A2A agent card, and the greeting."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, PlainTextResponse

from switchyard.server.deps import agent_for
from switchyard.server.response_models import Greeting
from switchyard.server.routes import EdgeAnswer, QueryParam, RouteGroup
from switchyard.server.settings import settings_of

routes = RouteGroup(tags=["meta"], order=20)


@routes.get("/health", scope="public", summary="Liveness", response_class=PlainTextResponse,
            edge=EdgeAnswer(b"OK", "text/plain; charset=utf-8"),
            responses={200: {"content": {"text/plain": {"schema": {"type": "string", "example": "OK"}}}}})
async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("OK")


@routes.get("/.well-known/agent-card.json", scope="public", summary="The A2A agent card", errors=(404,),
            responses={200: {"content": {"application/json": {"schema": {"type": "object"}}},
                             "description": "The A2A agent card (A2A 0.3 and 1.0 fields)"}})
async def agent_card(request: Request) -> JSONResponse:
    from switchyard.server.card import agent_prefix, build_card
    agent = agent_for(request)
    # Another agent's card (?agentId=) points at that agent's own endpoints.
    prefix = "" if agent is request.app.state.host.default else agent_prefix(agent.id)
    return JSONResponse(build_card(agent, base_url(request), auth_required=request.app.state.auth_required,
                                   path_prefix=prefix))


@routes.get("/api/greeting", scope="read", summary="The agent's greeting", fast=True,
            response_model=Greeting, errors=(404,),
            query=(QueryParam("sessionId", "Accepted for compatibility; the greeting is the agent's"),
                   QueryParam("agentId", "The agent (default: the server's default agent)")))
async def greeting(request: Request) -> dict[str, Any]:
    agent = agent_for(request)
    return {"greeting": agent.config.greeting}


def base_url(request: Request) -> str:
    """The public base URL: SWITCHYARD_BASE_URL / DEXTO_BASE_URL, else the request's."""
    return settings_of(request).public_base_url(str(request.base_url))
