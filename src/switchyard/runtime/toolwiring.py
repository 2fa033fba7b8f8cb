"""Connect an agent's tool sources (MCP servers) and its approval policy at start-up."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from switchyard.runtime.agent import Agent


async def start_tools(agent: "Agent") -> None:
    # Filled in when the MCP client lands (tools issue).
    return None
