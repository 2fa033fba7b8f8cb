"""The hosted agents, and the router's decision for a message without running anything."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel

from switchyard.server.deps import host_of
from switchyard.server.response_models import AgentList, AgentRef, RoutingDecision
from switchyard.server.routes import RouteGroup
from switchyard.server.schemas import Content, SessionId

routes = RouteGroup(tags=["agents"], order=50)


class RouteBody(BaseModel):
    content: Content
    sessionId: SessionId | None = None


def _entry(agent: Any) -> dict[str, Any]:
    return {"id": agent.id, "name": agent.config.name, "description": agent.config.description,
            "type": "custom"}


@routes.get("/api/agents", scope="read", summary="The agents this server hosts", fast=True,
            response_model=AgentList)
async def list_agents(request: Request) -> dict[str, Any]:
    host = host_of(request)
    agents = [_entry(a) for a in host.agents.values()]
    default = host.default
    available: list[dict[str, Any]] = []
    if host.folder is not None:   # agent files of the agents folder not served (POST /api/agents/install)
        from switchyard.runtime.agent_install import AgentsFolder
        from switchyard.server.settings import settings_of
        found = AgentsFolder.of(host.folder, settings_of(request).env).available(host.agents)
        available = [{k: v for k, v in a.items() if k != "_entry"} for a in found]
    return {"agents": agents, "installed": agents, "available": available,
            "current": {"id": default.id, "name": default.config.name}}


@routes.get("/api/agents/current", scope="read", summary="The default agent", fast=True,
            response_model=AgentRef)
async def current_agent(request: Request) -> dict[str, Any]:
    default = host_of(request).default
    return {"id": default.id, "name": default.config.name}


@routes.post("/api/route", scope="chat", summary="Which agent the router would pick for a message, and why",
             response_model=RoutingDecision)
async def route(request: Request, body: RouteBody) -> dict[str, Any]:
    from switchyard.server.routing_glue import decide
    from switchyard.server.schemas import content_dump
    decision = await decide(host_of(request), content_dump(body.content), body.sessionId)
    return decision.to_dict()
