"""The hosted agents, and the router's decision for a message without running anything."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from switchyard.server.deps import host_of
from switchyard.server.plain_routes import PlainRouter
from switchyard.server.schemas import Content, SessionId

router = APIRouter(tags=["agents"])
plain = PlainRouter(tags=["agents"])


class RouteBody(BaseModel):
    content: Content
    sessionId: SessionId | None = None


def _entry(agent: Any) -> dict[str, Any]:
    return {"id": agent.id, "name": agent.config.name, "description": agent.config.description,
            "type": "custom"}


@plain.get("/api/agents", summary="The agents this server hosts")
async def list_agents(request: Request) -> dict[str, Any]:
    host = host_of(request)
    agents = [_entry(a) for a in host.agents.values()]
    default = host.default
    return {"agents": agents, "installed": agents, "available": [],
            "current": {"id": default.id, "name": default.config.name}}


@plain.get("/api/agents/current", summary="The default agent")
async def current_agent(request: Request) -> dict[str, Any]:
    default = host_of(request).default
    return {"id": default.id, "name": default.config.name}


@router.post("/api/route", summary="Which agent the router would pick for a message, and why")
async def route(request: Request, body: RouteBody) -> dict[str, Any]:
    from switchyard.server.routing_glue import decide
    from switchyard.server.schemas import content_dump
    decision = await decide(host_of(request), content_dump(body.content), body.sessionId)
    return decision.to_dict()
