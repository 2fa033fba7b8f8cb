"""What routes need from a request: the hosted agents, the caller, and ownership checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from switchyard.errors import NotFoundError
from switchyard.runtime.agent import Agent
from switchyard.runtime.host import AgentHost

PRINCIPAL_SCOPE_KEY = "switchyard.principal"


@dataclass(frozen=True)
class Principal:
    """Who is calling. In development mode (no auth) everyone is the anonymous admin."""

    name: str | None
    scopes: frozenset[str] = field(default_factory=lambda: frozenset({"read", "chat", "admin"}))
    is_root: bool = False

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes


ANONYMOUS = Principal(name=None, is_root=True)


def host_of(request: Request) -> AgentHost:
    return request.app.state.host


def principal_of(request: Request) -> Principal:
    return request.scope.get(PRINCIPAL_SCOPE_KEY, ANONYMOUS)


def owner_of(request: Request) -> str | None:
    """The owner to record on sessions this caller creates (a key name, or None)."""
    return principal_of(request).name


def owner_filter(request: Request) -> str | None:
    """Sessions a non-admin key may see are its own; admins and no-auth mode see all."""
    principal = principal_of(request)
    return None if principal.is_admin else principal.name


def agent_for(request: Request, agent_id: str | None = None) -> Agent:
    return host_of(request).get(agent_id or request.query_params.get("agentId"))


async def visible_session(request: Request, agent: Agent, session_id: str) -> dict[str, Any]:
    """The session, or 404 when it does not exist or belongs to another key."""
    session = await agent.get_session(session_id)
    check_owner(request, session)
    return session


def check_owner(request: Request, session: dict[str, Any]) -> None:
    owner = owner_filter(request)
    if owner is not None and session.get("owner") != owner:
        raise NotFoundError(f"session {session['id']!r} not found", code="session_not_found")


async def ensure_session_access(request: Request, agent: Agent, session_id: str | None) -> None:
    """Before sending to a session: an existing session must be the caller's own."""
    if not session_id:
        return
    session = await agent.store.sessions.get(agent.id, session_id)
    if session is not None:
        check_owner(request, session)


async def message_agent(request: Request, agent_id: str | None, content: Any,
                        session_id: str | None) -> Agent:
    """The agent a message goes to: the one named, the default, or the router's choice
    for `auto` (the decision is left in the scope for the response to carry)."""
    host = host_of(request)
    if agent_id == "auto":
        from switchyard.server.routing_glue import route_for_request
        return await route_for_request(request, host, content, session_id)
    return host.get(agent_id)
