"""Connect an agent's tool sources (MCP servers) and its approval policy at start-up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from switchyard.runtime.agent import Agent


async def start_tools(agent: "Agent") -> None:
    from switchyard.tools.approval import ApprovalCoordinator
    agent.approvals = ApprovalCoordinator(agent.config.permissions, agent.publish_event)
    if agent.config.mcpServers:
        await ensure_mcp(agent).start()


def ensure_mcp(agent: "Agent") -> Any:
    """The agent's MCP manager, created on first need (the `mcp` SDK is imported only then,
    which keeps the start of an agent without MCP servers fast)."""
    if agent.mcp is None:
        from switchyard.tools.mcp_manager import MCPManager
        agent.mcp = MCPManager(agent.config.mcpServers, toolset=agent.tools)
    return agent.mcp
