"""Health, the A2A agent card, and the greeting."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, PlainTextResponse

from switchyard.server.deps import agent_for
from switchyard.server.plain_routes import PlainRouter, QueryParam

router = APIRouter(tags=["meta"])
plain = PlainRouter(tags=["meta"])


@router.get("/health", response_class=PlainTextResponse, summary="Liveness")
async def health() -> PlainTextResponse:
    return PlainTextResponse("OK")


@router.get("/.well-known/agent-card.json", summary="The A2A agent card")
async def agent_card(request: Request) -> JSONResponse:
    from switchyard.server.card import agent_prefix, build_card
    agent = agent_for(request)
    # Another agent's card (?agentId=) points at that agent's own endpoints.
    prefix = "" if agent is request.app.state.host.default else agent_prefix(agent.id)
    return JSONResponse(build_card(agent, base_url(request), auth_required=request.app.state.auth_required,
                                   path_prefix=prefix))


@plain.get("/api/greeting", summary="The agent's greeting",
           query=(QueryParam("sessionId", "Accepted for compatibility; the greeting is the agent's"),
                  QueryParam("agentId", "The agent (default: the server's default agent)")))
async def greeting(request: Request) -> dict[str, Any]:
    agent = agent_for(request)
    return {"greeting": agent.config.greeting}


def base_url(request: Request) -> str:
    configured = os.environ.get("SWITCHYARD_BASE_URL") or os.environ.get("DEXTO_BASE_URL")
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")
