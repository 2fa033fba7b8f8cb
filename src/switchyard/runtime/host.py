"""The agents one server hosts, by id, with a default for requests that name none."""

from __future__ import annotations

from typing import Any, Callable

from switchyard.errors import NotFoundError
from switchyard.llm.concurrency import ProviderGates
from switchyard.runtime.agent import Agent
from switchyard.runtime.run_quota import RunQuota


class AgentHost:
    def __init__(self, agents: list[Agent], default_id: str | None = None) -> None:
        if not agents:
            raise ValueError("a host needs at least one agent")
        self.agents: dict[str, Agent] = {}
        # One per-key run quota for every hosted agent (the server sets its cap).
        self.run_quota = RunQuota()
        # One bound on calls in flight per provider endpoint, for every hosted agent.
        self.provider_gates = ProviderGates()
        # Provider keys the server stores, for agents whose own key is absent (env var name ->
        # key; filled by server/model_settings.py).
        self.stored_keys: dict[str, str] = {}
        # Called with each agent that joins while serving (installed, or a reloaded
        # configuration's), so the server's services wire it as they wired the first ones.
        self.on_join: list[Callable[[Agent], None]] = []
        # Called after the set of agents or their configurations changed (the router rebuilds).
        self.on_change: list[Callable[[], None]] = []
        # The agents folder it serves (`serve --agents DIR`): where agents are installed.
        self.folder: str | None = None
        # Agents replaced or uninstalled whose turns are still finishing (approvals reach them).
        self.retiring: list[Agent] = []
        for agent in agents:
            if agent.id in self.agents:
                raise ValueError(f"two agents share the id {agent.id!r}")
            self._adopt(agent)
        self.default_id = default_id or agents[0].id
        if self.default_id not in self.agents:
            raise ValueError(f"default agent {self.default_id!r} is not among the hosted agents")
        # The server's routing state (server/routing_glue.RoutingState), made on first use of `auto`.
        self.routing: Any = None

    def _adopt(self, agent: Agent) -> None:
        self.agents[agent.id] = agent
        agent.tooling.find_agent = self.get   # spawn_agent reaches the other hosted agents
        agent.runs.quota = self.run_quota
        agent.models.gates = self.provider_gates
        agent.models.stored_keys = self.stored_keys

    def join(self, agent: Agent) -> Agent | None:
        """Serve `agent` (started) from now on, in place of the agent with its id if there is
        one (returned: the caller retires it). The server's services wire it first."""
        previous = self.agents.get(agent.id)
        for hook in self.on_join:
            hook(agent)
        self._adopt(agent)
        if previous is not None:
            previous.hand_over(agent)
            previous.retired = True
            self.retiring.append(previous)
        self._changed()
        return previous

    def leave(self, agent_id: str) -> Agent:
        """Stop serving an agent (not the last one); the caller retires it. When it was the
        default, the first remaining agent becomes the default."""
        agent = self.get(agent_id)
        if len(self.agents) == 1:
            from switchyard.errors import ConflictError
            raise ConflictError(f"agent {agent_id!r} is the only agent served", code="agent_last")
        del self.agents[agent_id]
        if self.default_id == agent_id:
            self.default_id = next(iter(self.agents))
        agent.retired = True   # serves no new turn from now on
        self.retiring.append(agent)
        self._changed()
        return agent

    async def retire(self, agent: Agent, grace: float) -> None:
        try:
            await agent.retire(grace)
        finally:
            if agent in self.retiring:
                self.retiring.remove(agent)

    def set_default(self, agent_id: str) -> Agent:
        agent = self.get(agent_id)
        self.default_id = agent.id
        self._changed()
        return agent

    def _changed(self) -> None:
        for hook in self.on_change:
            hook()

    @property
    def default(self) -> Agent:
        return self.agents[self.default_id]

    def get(self, agent_id: str | None) -> Agent:
        if not agent_id:
            return self.default
        agent = self.agents.get(agent_id)
        if agent is None:
            known = ", ".join(sorted(self.agents))
            raise NotFoundError(f"agent {agent_id!r} not found (hosted: {known})", code="agent_not_found",
                                details={"agentId": agent_id})
        return agent

    async def drop_cached_clients(self) -> None:
        for agent in self.agents.values():
            await agent.models.drop_cached()

    async def start(self) -> None:
        for agent in self.agents.values():
            await agent.start()

    async def stop(self, grace: float = 10.0) -> None:
        for agent in [*self.retiring, *self.agents.values()]:
            await agent.stop(grace)
