"""The tools an agent's model can call: GET /api/tools (read-only). Prompts and resources
have their own modules (api/prompts.py, api/resources.py)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from switchyard.server.deps import agent_for
from switchyard.tools.base import Tool
from switchyard.tools.mcp_tool import MCPTool
from switchyard.server.response_models import ToolList
from switchyard.server.routes import RouteGroup

routes = RouteGroup(tags=["tools"], order=60)


def tool_entry(tool: Tool) -> dict[str, Any]:
    """One tool as the reference lists it. `name` is what the model sees (an MCP tool may be
    `<server>--<tool>` on a name collision); `source` is `builtin` for a `tools:` family's
    tool, `mcp` for an MCP server's, `local` for one given in-process."""
    source = tool.source if tool.source in ("mcp", "builtin") else "local"
    entry: dict[str, Any] = {"id": tool.name, "name": tool.name,
                             "description": tool.description or "", "source": source}
    if source == "mcp":
        entry["serverName"] = tool.server_name
        if isinstance(tool, MCPTool) and tool.original_name != tool.name:
            entry["_meta"] = {"originalName": tool.original_name}
    if tool.input_schema:
        entry["inputSchema"] = tool.input_schema
    return entry


@routes.get("/api/tools", scope="read", response_model=ToolList, errors=(404,),
            summary="Every tool the agent's model can call (built-in, local and MCP)")
async def list_tools(request: Request) -> dict[str, Any]:
    agent = agent_for(request)
    order = {"builtin": 0, "local": 1, "mcp": 2}
    tools = sorted((tool_entry(t) for t in agent.tools.all()), key=lambda e: (order[e["source"]], e["name"]))
    local = sum(1 for t in tools if t["source"] != "mcp")   # the reference counts non-MCP as local
    return {"tools": tools, "totalCount": len(tools), "localCount": local,
            "mcpCount": len(tools) - local}
