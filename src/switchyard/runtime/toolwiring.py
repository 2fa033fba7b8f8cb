"""An agent's tool sources and approval policy: the MCP servers (connected at start, or
created on first need by the MCP admin routes) and the approval coordinator."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from switchyard.config.schema import AgentConfig
from switchyard.events import Event
from switchyard.tools.base import ToolSet


class AgentTooling:
    def __init__(self, config: AgentConfig, tools: ToolSet,
                 publish: Callable[[Event], Awaitable[None]]) -> None:
        self.config = config
        self.tools = tools
        self._publish = publish
        self.mcp: Any = None          # tools.mcp_manager.MCPManager, once created
        self.approvals: Any = None    # tools.approval.ApprovalCoordinator, from start()

    async def start(self) -> None:
        from switchyard.tools.approval import ApprovalCoordinator
        self.approvals = ApprovalCoordinator(self.config.permissions, self._publish)
        if self.config.mcpServers:
            await self.ensure_mcp().start()

    def ensure_mcp(self) -> Any:
        """The MCP manager, created on first need (the `mcp` SDK is imported only then,
        which keeps the start of an agent without MCP servers fast)."""
        if self.mcp is None:
            from switchyard.tools.mcp_manager import MCPManager
            self.mcp = MCPManager(self.config.mcpServers, toolset=self.tools,
                                  label=f"agent {self.config.agentId}: ")
        return self.mcp

    async def stop(self) -> None:
        if self.mcp is not None:
            await self.mcp.stop()


def ensure_mcp(agent: Any) -> Any:
    """The agent's MCP manager, created on first need (kept for callers of the old helper)."""
    return agent.ensure_mcp()
