"""MCP server management: /api/mcp/servers (list, add, config, update, delete, restart, tools,
execute, resources), in the reference's shapes.

Adding or changing a server is code execution (a stdio `command`): the scope table gives every
write under /api/mcp the admin scope. Each change is recorded in the audit log when there is one.
`persistToAgent` is accepted for compatibility but not implemented: changes last until the
server process restarts (a warning is logged when a client asks for it).
GET .../config shows `env` and `headers` values only to admins (they often hold tokens).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from switchyard.errors import NotFoundError, RequestError
from switchyard.ids import new_id
from switchyard.logs import redact_url
from switchyard.server.deps import agent_for, principal_of
from switchyard.tools.context import ToolCallContext
from switchyard.tools.mcp_tool import MCPTool
from switchyard.server.response_models import (MCPServerConfig, MCPServerInfo, MCPServerList, MCPServerStatus,
                                               MCPServerTools, MCPToolResult, ResourceList)
from switchyard.server.routes import RouteGroup

log = logging.getLogger("switchyard.server")

routes = RouteGroup(tags=["mcp"], order=70)

ServerName = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
REDACTED = "[REDACTED]"


def _config_doc() -> dict[str, Any]:
    """What `config` must be, for the document: a stdio server (`command`) or an http/sse one
    (`url`), `type` optional as in agent files (parse_server_config infers it). The body is
    validated by hand (errors named `config.<field>`), so the schema is written here."""
    from switchyard.tools.mcp_manager import _CONFIG
    definitions = _CONFIG.json_schema()["$defs"]
    variants = []
    for name, required in (("StdioServerConfig", "command"), ("HttpServerConfig", "url")):
        variant = {k: v for k, v in definitions[name].items() if k != "title"}
        variant["required"] = [required]
        if required == "url":
            variant["properties"] = {**variant["properties"],
                                     "url": {"type": "string", "pattern": "^https?://"}}
        variants.append(variant)
    return {"anyOf": variants}


MCPConfig = Annotated[dict[str, Any], Field(json_schema_extra=lambda schema: schema.update(_config_doc()))]


class AddServerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ServerName
    config: MCPConfig
    persistToAgent: bool = False


class UpdateServerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: MCPConfig
    persistToAgent: bool = False


# --- helpers ------------------------------------------------------------------------------

def resource_entry(server: str, resource: dict[str, Any]) -> dict[str, Any]:
    """One resource as GET /api/mcp/servers/{id}/resources lists it: the qualified URI
    `mcp:<server>:<uri>` and the server's own (GET /api/resources lists the reference's
    other shape, runtime/resources.py)."""
    entry: dict[str, Any] = {"uri": f"mcp:{server}:{resource['uri']}",
                             "originalUri": resource["uri"], "name": resource.get("name"),
                             "source": "mcp", "serverName": server}
    for key in ("title", "description", "mimeType", "size"):
        if resource.get(key) is not None:
            entry[key] = resource[key]
    return entry


def _manager(request: Request, *, create: bool = False) -> Any:
    agent = agent_for(request)
    if create:
        from switchyard.runtime.toolwiring import ensure_mcp
        return ensure_mcp(agent)
    return agent.mcp


def _connection(request: Request, server_id: str) -> Any:
    manager = _manager(request)
    if manager is None or server_id not in manager:
        raise NotFoundError(f"MCP server '{server_id}' not found", code="mcp_server_not_found",
                            details={"id": server_id})
    return manager.get(server_id)


def _parse_config(raw: dict[str, Any]) -> Any:
    """Validate a server config; the 400 names the field as `config.<field>`."""
    from switchyard.tools.mcp_manager import parse_server_config
    try:
        return parse_server_config(raw)
    except RequestError as exc:
        # parse_server_config names paths inside the config (validation_issues); here they are
        # inside the body's `config`.
        issues = [{"path": "config" if issue["path"] == "(body)" else f"config.{issue['path']}",
                   "message": issue["message"]} for issue in (exc.details or {}).get("issues", [])]
        if not issues:
            raise
        first = issues[0]
        raise RequestError(f"{first['path']}: {first['message']}", details={"issues": issues}) from None


def _summary(config: Any) -> dict[str, Any]:
    """What the audit log keeps of a config: never env or header values."""
    out: dict[str, Any] = {"type": config.type}
    if config.type == "stdio":
        out["command"] = config.command
        out["args"] = list(config.args)
    else:
        out["url"] = redact_url(config.url)
    return out


async def _audit(request: Request, action: str, details: dict[str, Any], outcome: str = "ok") -> None:
    audit = getattr(request.app.state, "audit", None)
    if audit is None:
        return
    try:
        if outcome == "ok":
            await audit.record(request, action, details=details)
        else:
            await audit.record(request, action, outcome=outcome, details=details)
    except Exception:
        log.exception("audit of %s failed", action)


def _warn_persist(persist: bool, name: str) -> None:
    if persist:
        log.warning("persistToAgent is not supported: MCP server '%s' is changed for this "
                    "process only, not in the agent's YAML", name)


def _added_status(connection: Any) -> dict[str, Any]:
    status = "registered" if connection.status == "disabled" else connection.status
    out: dict[str, Any] = {"status": status, "name": connection.name}
    if connection.status not in ("connected", "disabled") and connection.last_error:
        out["error"] = connection.last_error
    return out


# --- routes ------------------------------------------------------------------------------

@routes.get("/api/mcp/servers", scope="read", response_model=MCPServerList, errors=(404,),
            summary="The agent's MCP servers and their status")
async def list_servers(request: Request) -> dict[str, Any]:
    manager = _manager(request)
    return {"servers": manager.servers() if manager is not None else []}


@routes.get("/api/mcp/servers/{server_id}", scope="read", response_model=MCPServerInfo, errors=(404,),
            summary="One MCP server and its status")
async def get_server(request: Request, server_id: str) -> dict[str, Any]:
    return _connection(request, server_id).info()


@routes.post("/api/mcp/servers", scope="admin", response_model=MCPServerStatus, errors=(404, 409),
             summary="Add and connect an MCP server (admin)")
async def add_server(request: Request, body: AddServerBody) -> dict[str, Any]:
    config = _parse_config(body.config)
    details = {"name": body.name, **_summary(config)}
    _warn_persist(body.persistToAgent, body.name)
    try:
        connection = await _manager(request, create=True).add(body.name, config)
    except Exception as exc:
        await _audit(request, "mcp.add", {**details, "error": str(exc)}, outcome="error")
        raise
    await _audit(request, "mcp.add", {**details, "status": connection.status})
    return _added_status(connection)


@routes.get("/api/mcp/servers/{server_id}/config", scope="read", response_model=MCPServerConfig,
            errors=(404,), summary="An MCP server's config")
async def server_config(request: Request, server_id: str) -> dict[str, Any]:
    connection = _connection(request, server_id)
    config = connection.config.model_dump(mode="json", exclude_none=True)
    if config.get("url"):
        config["url"] = redact_url(config["url"])   # ?token= or user:pass@ in it, for everyone
    if not principal_of(request).is_admin:
        for key in ("env", "headers"):
            if config.get(key):
                config[key] = {k: REDACTED for k in config[key]}
    return {"name": server_id, "config": config}


@routes.put("/api/mcp/servers/{server_id}", scope="admin", response_model=MCPServerStatus, errors=(404,),
            summary="Replace an MCP server's config and reconnect (admin)")
async def update_server(request: Request, server_id: str, body: UpdateServerBody) -> dict[str, Any]:
    _connection(request, server_id)
    config = _parse_config(body.config)
    details = {"name": server_id, **_summary(config)}
    _warn_persist(body.persistToAgent, server_id)
    try:
        connection = await _manager(request).update(server_id, config)
    except Exception as exc:
        await _audit(request, "mcp.update", {**details, "error": str(exc)}, outcome="error")
        raise
    await _audit(request, "mcp.update", {**details, "status": connection.status})
    return _added_status(connection)


@routes.delete("/api/mcp/servers/{server_id}", scope="admin", response_model=MCPServerStatus,
               errors=(404,), summary="Disconnect and remove an MCP server (admin)")
async def delete_server(request: Request, server_id: str) -> dict[str, Any]:
    _connection(request, server_id)
    await _manager(request).remove(server_id)
    await _audit(request, "mcp.remove", {"name": server_id})
    return {"status": "disconnected", "id": server_id}


@routes.post("/api/mcp/servers/{server_id}/restart", scope="admin", response_model=MCPServerStatus,
             errors=(404,), summary="Restart an MCP server (admin)")
async def restart_server(request: Request, server_id: str) -> dict[str, Any]:
    _connection(request, server_id)
    connection = await _manager(request).restart(server_id)
    await _audit(request, "mcp.restart", {"name": server_id, "status": connection.status})
    out: dict[str, Any] = {"status": "restarted", "id": server_id, "serverStatus": connection.status}
    if connection.status != "connected" and connection.last_error:
        out["error"] = connection.last_error
    return out


@routes.get("/api/mcp/servers/{server_id}/tools", scope="read", response_model=MCPServerTools,
            errors=(404,), summary="An MCP server's tools")
async def server_tools(request: Request, server_id: str) -> dict[str, Any]:
    connection = _connection(request, server_id)
    agent = agent_for(request)
    # The id is the name the model sees (maybe `<server>--<tool>`); `name` is the server's own.
    exposed = {(t.server_name, t.original_name): t.name
               for t in agent.tools.all() if isinstance(t, MCPTool)}
    tools = [{"id": exposed.get((server_id, spec.name), spec.name), "name": spec.name,
              "description": spec.description, "inputSchema": spec.input_schema}
             for spec in connection.tool_specs]
    return {"tools": tools}


@routes.post("/api/mcp/servers/{server_id}/tools/{tool_name}/execute", scope="admin",
             response_model=MCPToolResult, errors=(404,),
             summary="Call an MCP server's tool directly (admin); 200 with success true or false")
async def execute_tool(request: Request, server_id: str, tool_name: str) -> dict[str, Any]:
    connection = _connection(request, server_id)
    arguments = await _json_body(request)
    prefix = f"{server_id}--"
    wanted = tool_name.removeprefix(prefix)
    spec = next((s for s in connection.tool_specs if s.name == wanted), None)
    await _audit(request, "mcp.execute", {"name": server_id, "tool": wanted})
    if spec is None:
        return {"success": False, "error": f"MCP server '{server_id}' has no tool '{tool_name}'"}
    # An admin's direct call belongs to no session or turn.
    context = ToolCallContext(call_id=new_id(), agent_id=agent_for(request).id)
    result = await MCPTool(connection, spec).call(arguments, context)
    if result.is_error:
        return {"success": False, "error": result.as_text()}
    data: dict[str, Any] = {"content": result.content}
    if result.raw is not None:
        data["structuredContent"] = result.raw
    return {"success": True, "data": data}


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    import json
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise RequestError(f"request body is not valid JSON: {exc}", code="invalid_json") from None


@routes.get("/api/mcp/servers/{server_id}/resources", scope="read", response_model=ResourceList,
            errors=(404,), summary="An MCP server's resources")
async def server_resources(request: Request, server_id: str) -> dict[str, Any]:
    connection = _connection(request, server_id)
    listed = await connection.resources()
    return {"success": True, "resources": [resource_entry(server_id, r) for r in listed]}


@routes.get("/api/mcp/servers/{server_id}/resources/{resource_id:path}/content", scope="read", errors=(404,),
            summary="Read one resource of an MCP server")
async def resource_content(request: Request, server_id: str, resource_id: str) -> dict[str, Any]:
    connection = _connection(request, server_id)
    prefix = f"mcp:{server_id}:"
    uri = resource_id.removeprefix(prefix)
    return {"success": True, "data": {"content": await connection.read_resource(uri)}}
