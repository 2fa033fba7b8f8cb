"""What routes need from a request: the hosted agents, the caller, and the caller's sessions.

Ownership rules live in runtime/session_access.py (`SessionAccess`); this module only finds
the agent and the `Principal` a request carries and pairs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from switchyard.principal import ANONYMOUS, Principal
from switchyard.runtime.agent import Agent
from switchyard.runtime.host import AgentHost
from switchyard.runtime.session_access import SessionAccess

# Where the authentication layer (security/auth.py) leaves the caller's Principal.
PRINCIPAL_SCOPE_KEY = "switchyard.principal"


def host_of(request: Request) -> AgentHost:
    return request.app.state.host


def principal_in(scope: Mapping[str, Any] | None) -> Principal:
    """The caller an ASGI scope carries; no scope (a local transport such as MCP over stdio)
    or no authentication is the anonymous admin."""
    if scope is None:
        return ANONYMOUS
    return scope.get(PRINCIPAL_SCOPE_KEY, ANONYMOUS)


def principal_of(request: Request) -> Principal:
    return principal_in(request.scope)


def agent_for(request: Request, agent_id: str | None = None) -> Agent:
    return host_of(request).get(agent_id or request.query_params.get("agentId"))


def sessions_for(request: Request, agent: Agent | str | None = None) -> SessionAccess:
    """The caller's view of an agent's sessions: `agent` itself, the agent with that id, or
    (None) the one named by the `agentId` query parameter, else the default agent."""
    if not isinstance(agent, Agent):
        agent = agent_for(request, agent)
    return SessionAccess(agent, principal_of(request))


async def message_agent(request: Request, agent_id: str | None, content: Any,
                        session_id: str | None) -> Agent:
    """The agent a message goes to: the one named, the default, or the router's choice
    for `auto` (the decision is left in the scope for the response to carry)."""
    host = host_of(request)
    sync = getattr(request.app.state, "config_sync", None)
    if sync is not None and sync.behind:   # a change made on another replica is being applied here
        await sync.settle()
    if agent_id == "auto":
        from switchyard.server.routing_glue import route_for_request
        return await route_for_request(request, host, content, session_id)
    return host.get(agent_id)
