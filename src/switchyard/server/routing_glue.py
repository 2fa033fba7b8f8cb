"""`agentId: "auto"`: the router picks the agent, sticky per session, and the decision
travels with the answer: the run begins with a `routing:decision` event (so streams, and a
client re-attaching to the run, see it first) and sync bodies carry it as `routing`."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from starlette.requests import Request

from switchyard.errors import NotFoundError
from switchyard.events import RoutingDecisionEvent
from switchyard.llm.base import content_to_text
from switchyard.runtime.agent import Agent
from switchyard.runtime.host import AgentHost
from switchyard.server.settings import RouterSettings

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
        self._generation = 0     # bumped when the hosted agents change: a build of before is stale
        self._warming: asyncio.Task[None] | None = None
        self.session_agents: OrderedDict[str, str] = OrderedDict()

    async def router(self) -> Any:
        while True:
            router = self._router
            if router is not None:
                return router
            async with self._lock:
                if self._router is None:
                    # The LLM client is made here, on the event loop; the index (which may
                    # embed every routing example) is built in a thread. A build that the
                    # hosted agents changed under is thrown away and made again.
                    generation = self._generation
                    built = await asyncio.to_thread(self._build, _router_llm(self.host.default))
                    if generation == self._generation:
                        self._router = built

    def warm(self) -> None:
        """Build the router in the background, so that the first `auto` message does not wait
        for the index (the sentence model embeds every agent's texts: seconds for a few
        hundred texts the first time, vector_cache.py keeps them for the next start). At
        start and whenever the hosted agents change; not for a single agent or with the
        semantic layer off (building is then instant)."""
        if len(self.host.agents) < 2 or self.semantic == "off":
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return   # no event loop (a host changed outside a server): built on first use
        if self._warming is not None and not self._warming.done():
            self._warming.cancel()
        self._warming = loop.create_task(self._warm(), name="router-warm-up")

    async def _warm(self) -> None:
        try:
            await self.router()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the first `auto` message reports it
            log.warning("the router could not be built ahead of use: %s", exc)

    async def stop_warming(self) -> None:
        if self._warming is not None and not self._warming.done():
            self._warming.cancel()
            await asyncio.gather(self._warming, return_exceptions=True)

    def _build(self, llm: Any) -> Any:
        from switchyard.routing import Router
        semantic: Any = {"on": True, "off": False, "static": "static"}.get(self.semantic, "auto")
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

    def forget_router(self) -> None:
        """The hosted agents changed (installed, uninstalled, reloaded): build it anew on next
        use, and forget sessions routed to an agent no longer served."""
        self._router = None
        self._generation += 1
        for session_id in [s for s, a in self.session_agents.items() if a not in self.host.agents]:
            del self.session_agents[session_id]
        self.warm()

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


def routing_state(host: AgentHost, settings: RouterSettings | None = None) -> RoutingState:
    """The host's routing state; made on first use with `settings` (create_app passes the
    server's router settings; without them, the router's defaults)."""
    state = host.routing
    if state is None:
        settings = settings or RouterSettings()
        state = RoutingState(host, fallback=settings.fallback, semantic=settings.semantic,
                             llm_margin=settings.llm_margin)
        host.routing = state
        host.on_change.append(state.forget_router)
    return state


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
