"""`agentId: "auto"`: the router picks the agent, sticky per session, and the decision
travels with the answer: the run begins with a `routing:decision` event (so streams, and a
client re-attaching to the run, see it first) and sync bodies carry it as `routing`."""

from __future__ import annotations

import asyncio
import logging
import os
from collections import OrderedDict
from typing import Any

from starlette.requests import Request

from switchyard.errors import NotFoundError
from switchyard.events import RoutingDecisionEvent
from switchyard.llm.base import content_to_text
from switchyard.runtime.agent import Agent
from switchyard.runtime.host import AgentHost

MAX_REMEMBERED_SESSIONS = 10_000
# Where route_for_request leaves the decision for the route that runs the message.
DECISION_SCOPE_KEY = "switchyard.routing"

log = logging.getLogger("switchyard.routing")


class RoutingState:
    """The host's router, built once (in a thread: the semantic layer embeds every example),
    and which agent each routed session went to."""

    def __init__(self, host: AgentHost, *, fallback: str | None, semantic: str,
                 llm_margin: float | None = None) -> None:
        self.host = host
        self.fallback = fallback
        self.semantic = semantic
        self.llm_margin = llm_margin
        self._router: Any = None
        self._lock = asyncio.Lock()
        self.session_agents: OrderedDict[str, str] = OrderedDict()

    async def router(self) -> Any:
        if self._router is None:
            async with self._lock:
                if self._router is None:
                    # The LLM client is made here, on the event loop; the index (which may
                    # embed every routing example) is built in a thread.
                    self._router = await asyncio.to_thread(self._build, _router_llm(self.host.default))
        return self._router

    def _build(self, llm: Any) -> Any:
        from switchyard.routing import Router
        semantic: Any = {"on": True, "off": False}.get(self.semantic, "auto")
        options = {} if self.llm_margin is None else {"llm_margin": self.llm_margin}
        return Router([a.config for a in self.host.agents.values()], fallback=self.fallback,
                      semantic=semantic, llm=llm,
                      sources={a.id: a.loaded.path or "" for a in self.host.agents.values()}, **options)

    async def current_agent(self, session_id: str | None) -> str | None:
        if not session_id:
            return None
        agent_id = self.session_agents.get(session_id)
        if agent_id is not None:
            return agent_id
        for agent in self.host.agents.values():  # after a restart: whose store has it?
            try:
                await agent.get_session(session_id)
            except NotFoundError:
                continue
            return agent.id
        return None

    def remember(self, session_id: str, agent_id: str) -> None:
        self.session_agents[session_id] = agent_id
        self.session_agents.move_to_end(session_id)
        while len(self.session_agents) > MAX_REMEMBERED_SESSIONS:
            self.session_agents.popitem(last=False)


def _router_llm(agent: Agent) -> Any:
    """The default agent's model for the router's last layer; none when it is the echo test
    model (its answers mean nothing) or cannot be created."""
    try:
        client = agent.llm
    except Exception:  # noqa: BLE001 - no LLM layer then
        return None
    return None if client.provider == "echo" else client


def routing_state(host: AgentHost) -> RoutingState:
    state = host.routing
    if state is None:
        state = RoutingState(host, fallback=os.environ.get("SWITCHYARD_ROUTER_FALLBACK") or None,
                             semantic=os.environ.get("SWITCHYARD_ROUTER_SEMANTIC", "auto"),
                             llm_margin=llm_margin_from_env(os.environ))
        host.routing = state
    return state


def llm_margin_from_env(env: Any) -> float | None:
    """SWITCHYARD_ROUTER_LLM_MARGIN: a number >= 0, or unset for the router's default. A bad
    value is named in a warning and ignored (the server still routes)."""
    raw = env.get("SWITCHYARD_ROUTER_LLM_MARGIN")
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also rejects nan
        log.warning("SWITCHYARD_ROUTER_LLM_MARGIN=%r is not a number >= 0: using the default", raw[:40])
        return None
    return value


async def decide(host: AgentHost, content: Any, session_id: str | None) -> Any:
    state = routing_state(host)
    router = await state.router()
    current = await state.current_agent(session_id)
    return await router.route(content_to_text(content), current_agent=current)


async def route_for_request(request: Request, host: AgentHost, content: Any, session_id: str | None) -> Agent:
    """The agent the router picks; the decision is left in the request's scope, for
    `routing_event` to turn into the run's first event."""
    decision = await decide(host, content, session_id)
    if session_id:
        routing_state(host).remember(session_id, decision.agent_id)
    request.scope[DECISION_SCOPE_KEY] = decision
    return host.get(decision.agent_id)


def routing_events(request: Request, session_id: str) -> list[RoutingDecisionEvent]:
    """What a routed run begins with: this request's routing decision as an event of the run
    in `session_id` (nothing when the request was not routed)."""
    decision = request.scope.get(DECISION_SCOPE_KEY)
    return [] if decision is None else [RoutingDecisionEvent.of(session_id, decision)]
