"""Tools, prompts and resources an agent offers: GET /api/tools, /api/prompts, /api/resources.

Read-only views. MCP prompts and resources are asked of every connected server concurrently;
a server that fails to answer is logged and left out rather than failing the whole list.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from fastapi import Request

from switchyard.server.deps import agent_for
from switchyard.tools.base import Tool
from switchyard.tools.mcp_tool import MCPTool
from switchyard.server.response_models import PromptList, ResourceList, ToolList
from switchyard.server.routes import RouteGroup

log = logging.getLogger("switchyard.server")

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


def connected_servers(agent: Any) -> list[Any]:
    """The agent's MCP connections that are up (an agent without MCP has none)."""
    if agent.mcp is None:
        return []
    connections = [agent.mcp.get(s["id"]) for s in agent.mcp.servers()]
    return [c for c in connections if c.status == "connected"]


async def _gather_per_server(agent: Any, what: str) -> list[tuple[Any, list[dict[str, Any]]]]:
    connections = connected_servers(agent)
    results = await asyncio.gather(*(getattr(c, what)() for c in connections), return_exceptions=True)
    out = []
    for connection, result in zip(connections, results):
        if isinstance(result, BaseException):
            log.warning("MCP server '%s': listing %s failed: %s", connection.name, what, result)
            continue
        out.append((connection, result))
    return out


def _config_prompt(prompt: Any) -> dict[str, Any]:
    if getattr(prompt, "type", None) == "inline":
        entry: dict[str, Any] = {"name": prompt.id, "description": prompt.description or None,
                                 "userInvocable": prompt.user_invocable, "source": "config",
                                 "metadata": {"category": prompt.category, "priority": prompt.priority,
                                              "showInStarters": prompt.showInStarters}}
        if prompt.title:
            entry["title"] = prompt.title
        return {k: v for k, v in entry.items() if v is not None}
    # A file prompt: named after its file (a namespace, when given, prefixes the name).
    name = Path(prompt.file).stem
    if prompt.namespace:
        name = f"{prompt.namespace}:{name}"
    entry = {"name": name, "source": "config",
             "metadata": {"file": prompt.file, "showInStarters": prompt.showInStarters}}
    if prompt.user_invocable is not None:
        entry["userInvocable"] = prompt.user_invocable
    return entry


def _mcp_prompt(server: str, prompt: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": prompt["name"], "source": "mcp",
                             "metadata": {"serverName": server}}
    for key in ("title", "description"):
        if prompt.get(key):
            entry[key] = prompt[key]
    if prompt.get("arguments"):
        entry["arguments"] = [{k: a[k] for k in ("name", "description", "required") if k in a}
                              for a in prompt["arguments"]]
    return entry


@routes.get("/api/prompts", scope="read", response_model=PromptList, errors=(404,),
            summary="Prompts from the agent config and from MCP servers")
async def list_prompts(request: Request) -> dict[str, Any]:
    agent = agent_for(request)
    prompts = [_config_prompt(p) for p in agent.config.prompts]
    for connection, listed in await _gather_per_server(agent, "prompts"):
        prompts += [_mcp_prompt(connection.name, p) for p in listed]
    return {"prompts": prompts}


def resource_uri(server: str, uri: str) -> str:
    """The reference's qualified resource URI: `mcp:<server>:<server's uri>`."""
    return f"mcp:{server}:{uri}"


def resource_entry(server: str, resource: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"uri": resource_uri(server, resource["uri"]),
                             "originalUri": resource["uri"], "name": resource.get("name"),
                             "source": "mcp", "serverName": server}
    for key in ("title", "description", "mimeType", "size"):
        if resource.get(key) is not None:
            entry[key] = resource[key]
    return entry


@routes.get("/api/resources", scope="read", response_model=ResourceList, errors=(404,),
            summary="Resources of the agent's MCP servers")
async def list_resources(request: Request) -> dict[str, Any]:
    agent = agent_for(request)
    resources = [resource_entry(connection.name, r)
                 for connection, listed in await _gather_per_server(agent, "resources")
                 for r in listed]
    return {"ok": True, "resources": resources}
