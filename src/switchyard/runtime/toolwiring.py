"""An agent's tool sources and approval policy: the `tools:` families (built-in tools and
their sandbox policies), the MCP servers (connected at start, or created on first need by the
MCP admin routes) and the approval coordinator."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from switchyard.config.schema import AgentConfig
from switchyard.events import Event
from switchyard.tools.base import ToolSet


class AgentTooling:
    def __init__(self, config: AgentConfig, tools: ToolSet,
                 publish: Callable[[Event], Awaitable[None]], *, agent_dir: str | None = None,
                 spawn: Callable[[Any, str], Any] | None = None, store: Any = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.tools = tools
        self._publish = publish
        self.agent_dir = Path(agent_dir or os.getcwd())
        self._spawn = spawn
        self.store = store
        self.env = env
        # The server's own files (SWITCHYARD_HOME, key and agent databases), fixed at start:
        # no tool and no `resources:` entry serves them (runtime/fs_resources.py).
        from switchyard.runtime.builtin_support import protected_paths
        self.protected = protected_paths(os.environ if env is None else env,
                                         store.url if store is not None else None)
        self.mcp: Any = None          # tools.mcp_manager.MCPManager, once created
        self.approvals: Any = None    # tools.approval.ApprovalCoordinator, from start()
        self.builtin: Any = None      # tools.builtin.BuiltinTooling, from start()
        # The other agents of the server (agent id -> Agent), set by the AgentHost: spawn_agent.
        self.find_agent: Callable[[str], Any] | None = None
        # () -> the agent's resource catalog (runtime/resource_catalog.py), set by the Agent.
        self.resource_catalog: Callable[[], Any] | None = None

    async def start(self) -> None:
        from switchyard.tools.approval import ApprovalCoordinator
        policies: list[Any] = []
        if self.config.tools:
            self.builtin = self._build_builtin()
            for tool in self.builtin.tools:
                self.tools.add(tool)
            policies = self.builtin.policies
        self.approvals = ApprovalCoordinator(self.config.permissions, self._publish, policies)
        if self.config.mcpServers:
            await self.ensure_mcp().start()

    def _build_builtin(self) -> Any:
        from switchyard.runtime.builtin_support import HistorySearch
        from switchyard.runtime.skills import SkillCatalog
        from switchyard.tools.builtin import BuiltinDeps, build_builtin_tools
        env = os.environ if self.env is None else self.env
        search = HistorySearch(self.config.agentId, self.store) if self.store is not None else None
        deps = BuiltinDeps(agent_dir=self.agent_dir, protected=list(self.protected),
                           spawn=self._spawn or _unsupervised, publish=self._publish,
                           approvals=lambda: self.approvals, search_history=search, server_env=env,
                           agent_id=self.config.agentId, find_agent=lambda: self.find_agent,
                           skills=SkillCatalog(self.agent_dir), resources=self.resource_catalog)
        return build_builtin_tools(list(self.config.tools), deps)

    def ensure_mcp(self) -> Any:
        """The MCP manager, created on first need (the `mcp` SDK is imported only then,
        which keeps the start of an agent without MCP servers fast)."""
        if self.mcp is None:
            from switchyard.tools.mcp_manager import MCPManager
            self.mcp = MCPManager(self.config.mcpServers, toolset=self.tools,
                                  label=f"agent {self.config.agentId}: ")
        return self.mcp

    def kill_processes(self) -> int:
        """Kill the background processes of bash_exec (before the supervisor stops: their
        output readers end once the processes are gone)."""
        return self.builtin.kill_processes() if self.builtin is not None else 0

    def forget_session(self, session_id: str) -> None:
        if self.builtin is not None:
            for family in self.builtin.todo_families:
                family.forget(session_id)

    async def stop(self) -> None:
        if self.builtin is not None:
            await self.builtin.close()
        if self.mcp is not None:
            await self.mcp.stop()


def _unsupervised(work: Any, name: str) -> Any:
    import asyncio
    return asyncio.ensure_future(work)


def ensure_mcp(agent: Any) -> Any:
    """The agent's MCP manager, created on first need (kept for callers of the old helper)."""
    return agent.ensure_mcp()
