"""The agents one server hosts, by id, with a default for requests that name none."""

from __future__ import annotations

from typing import Any

from switchyard.errors import NotFoundError
from switchyard.llm.concurrency import ProviderGates
from switchyard.runtime.agent import Agent
from switchyard.runtime.run_quota import RunQuota


class AgentHost:
    def __init__(self, agents: list[Agent], default_id: str | None = None) -> None:
        if not agents:
            raise ValueError("a host needs at least one agent")
        self.agents: dict[str, Agent] = {}
        for agent in agents:
            if agent.id in self.agents:
                raise ValueError(f"two agents share the id {agent.id!r}")
            self.agents[agent.id] = agent
            agent.tooling.find_agent = self.get   # spawn_agent reaches the other hosted agents
        # One per-key run quota for every hosted agent (the server sets its cap).
        self.run_quota = RunQuota()
        # One bound on calls in flight per provider endpoint, for every hosted agent.
        self.provider_gates = ProviderGates()
        # Provider keys the server stores, for agents whose own key is absent (env var name ->
        # key; filled by server/model_settings.py).
        self.stored_keys: dict[str, str] = {}
        for agent in self.agents.values():
            agent.runs.quota = self.run_quota
            agent.models.gates = self.provider_gates
            agent.models.stored_keys = self.stored_keys
        self.default_id = default_id or agents[0].id
        if self.default_id not in self.agents:
            raise ValueError(f"default agent {self.default_id!r} is not among the hosted agents")
        # The server's routing state (server/routing_glue.RoutingState), made on first use of `auto`.
        self.routing: Any = None

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
        for agent in self.agents.values():
            await agent.stop(grace)
