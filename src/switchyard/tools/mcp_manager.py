"""All MCP servers of one agent, and how their tools reach the agent's ToolSet.

Tool names: a tool keeps the name its server gives it. Only when a name is not unique — two
servers offer it, or a local tool has it — is every MCP tool of that name exposed as
`<server>--<tool>` (local tools keep their names). The server is always called with its own name.

Keeping the agent's ToolSet in sync: pass it as `MCPManager(configs, toolset=agent_tools)`.
The manager then adds its tools to that ToolSet and, whenever a server connects, drops, changes
its tools, or is added/updated/removed, replaces the MCP tools in it (local tools, i.e. any tool
whose `source` is not "mcp", are left alone and count for collisions). An optional
`on_change()` callback fires after each such sync (e.g. to push a status event to clients).
Without a toolset, call `tools(reserved=local_names)` yourself.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, Callable, Iterable, Mapping

from pydantic import TypeAdapter, ValidationError

from switchyard.config.schema import MCPServerConfig, infer_mcp_type
from switchyard.errors import ConflictError, NotFoundError, RequestError, validation_issues
from switchyard.tools.base import Tool, ToolSet
from switchyard.tools.mcp_client import ConnectionOptions, MCPConnection, MCPConnectionError
from switchyard.tools.mcp_tool import MCPTool

log = logging.getLogger("switchyard.mcp")

PREFIX_SEPARATOR = "--"
_CONFIG = TypeAdapter(MCPServerConfig)
STILL_STARTING_EVERY = 5   # seconds between "still starting" lines


def _describe(config: Any) -> str:
    """What a server is, for the start-up log: the command's name or the URL's host (never
    its arguments, headers or query, which may hold credentials)."""
    if getattr(config, "type", None) == "stdio":
        return f"stdio: {config.command.rsplit('/', 1)[-1]}"
    from urllib.parse import urlsplit
    parts = urlsplit(config.url)
    return f"{config.type}: {parts.scheme}://{parts.hostname or ''}"


def parse_server_config(raw: Any) -> Any:
    """A server config from a model or a JSON body (HTTP routes); errors name the field."""
    if not isinstance(raw, dict):
        return raw
    try:
        return _CONFIG.validate_python(infer_mcp_type(raw))
    except ValidationError as exc:
        # Never pydantic's own error list: it carries the input (headers, env: secrets). The
        # union's tag ('stdio', 'http', 'sse') leads each path; a bad tag is the `type` field.
        errors = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            if err.get("type", "").startswith("union_tag"):
                loc = ("type",)
            elif loc and loc[0] in ("stdio", "http", "sse"):
                loc = loc[1:]
            errors.append({**err, "loc": loc})
        issues = validation_issues(errors)
        first = issues[0]
        raise RequestError(f"invalid MCP server config at '{first['path']}': {first['message']}",
                           details={"issues": issues}) from None


class MCPManager:
    def __init__(self, configs: Mapping[str, Any] | None = None, *, toolset: ToolSet | None = None,
                 options: ConnectionOptions | None = None,
                 on_change: Callable[[], None] | None = None, label: str = "") -> None:
        self.options = options or ConnectionOptions()
        self.label = label   # e.g. "agent support: ", before each start-up progress line
        self.toolset = toolset
        self.on_change = on_change
        self._connections: dict[str, MCPConnection] = {}
        self._synced: set[str] = set()   # names this manager put into the toolset
        for name, config in (configs or {}).items():
            self._connections[name] = self._connection(name, parse_server_config(config))

    def _connection(self, name: str, config: Any) -> MCPConnection:
        return MCPConnection(name, config, options=self.options, on_change=self._changed)

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect every enabled server concurrently. A strict server that fails stops the
        startup: all servers are stopped and MCPConnectionError names it and its error.
        A lenient one is logged, left in status "error" and retried in the background."""
        connections = list(self._connections.values())
        await asyncio.gather(*(self._start_reported(c) for c in connections))
        failed = [c for c in connections
                  if c.config.enabled and c.status != "connected" and c.config.connectionMode == "strict"]
        if failed:
            await self.stop()
            raise self._strict_error(failed)
        for c in connections:
            if c.config.enabled and c.status != "connected":
                log.warning("%sMCP server '%s' failed to start (lenient: the agent runs without "
                            "it; retrying in the background): %s", self.label, c.name, c.last_error)
        self._changed()

    async def _start_reported(self, connection: MCPConnection) -> None:
        """Start one server, saying what starts, every few seconds that it still does, and
        how it went (a failure is reported by `start`, with its connection mode)."""
        if not connection.config.enabled:
            await connection.start()
            return
        log.info("%sMCP server '%s': starting (%s)", self.label, connection.name, _describe(connection.config))
        task = asyncio.ensure_future(connection.start())
        waited = 0
        while not (await asyncio.wait({task}, timeout=STILL_STARTING_EVERY))[0]:
            waited += STILL_STARTING_EVERY
            log.info("%sMCP server '%s': still starting (%d s)", self.label, connection.name, waited)
        await task
        if connection.status == "connected":
            log.info("%sMCP server '%s': connected, %d tools", self.label, connection.name,
                     len(connection.tool_specs))

    async def stop(self) -> None:
        await asyncio.gather(*(c.stop() for c in self._connections.values()))
        self._changed()

    async def add(self, name: str, config: Any) -> MCPConnection:
        if name in self._connections:
            raise ConflictError(f"MCP server '{name}' already exists", code="mcp_server_exists")
        connection = self._connection(name, parse_server_config(config))
        self._connections[name] = connection
        await self._start_one(connection)
        return connection

    async def update(self, name: str, config: Any) -> MCPConnection:
        """Replace a server's config: the old connection is stopped, a new one started. A new
        strict config that fails to connect is not kept: the old config is restored (and
        restarted) and the error is raised, so a bad update never loses a working server."""
        config = parse_server_config(config)
        old = self.get(name)
        await old.stop()
        connection = self._connection(name, config)
        self._connections[name] = connection
        try:
            await self._start_one(connection)
        except MCPConnectionError:
            restored = self._connection(name, old.config)
            self._connections[name] = restored
            await restored.start()
            self._changed()
            raise
        return connection

    async def remove(self, name: str) -> None:
        connection = self.get(name)
        del self._connections[name]
        await connection.stop()
        self._changed()

    async def restart(self, name: str) -> MCPConnection:
        connection = self.get(name)
        await connection.restart()
        self._changed()
        return connection

    async def _start_one(self, connection: MCPConnection) -> None:
        await connection.start()
        if (connection.config.enabled and connection.status != "connected"
                and connection.config.connectionMode == "strict"):
            # Strict means "this agent must not run without it": do not keep a half-added server.
            self._connections.pop(connection.name, None)
            await connection.stop()
            self._changed()
            raise self._strict_error([connection])
        self._changed()

    @staticmethod
    def _strict_error(failed: list[MCPConnection]) -> MCPConnectionError:
        parts = [f"'{c.name}': {c.last_error or c.status}" for c in failed]
        return MCPConnectionError(
            "MCP server failed to connect (connectionMode strict): " + "; ".join(parts),
            details={"servers": [{"name": c.name, "error": c.last_error} for c in failed]})

    # --- queries -----------------------------------------------------------------------------

    def get(self, name: str) -> MCPConnection:
        try:
            return self._connections[name]
        except KeyError:
            raise NotFoundError(f"MCP server '{name}' not found", code="mcp_server_not_found") from None

    def __contains__(self, name: str) -> bool:
        return name in self._connections

    def servers(self) -> list[dict[str, Any]]:
        """[{id, name, status, error?}] for the API."""
        return [c.info() for c in self._connections.values()]

    def tools(self, reserved: Iterable[str] = ()) -> list[Tool]:
        """Every MCP tool, named as described in the module docstring. `reserved`: names already
        taken by local tools. A server's last known tools are kept while it is down, so the
        model gets a clear "not connected" error rather than a tool that vanished."""
        reserved = set(reserved)
        listed = [(c, spec) for c in self._connections.values() if c.status != "disabled"
                  for spec in c.tool_specs]
        counts = Counter(spec.name for _, spec in listed)
        out: list[Tool] = []
        for connection, spec in listed:
            clash = counts[spec.name] > 1 or spec.name in reserved
            name = f"{connection.name}{PREFIX_SEPARATOR}{spec.name}" if clash else spec.name
            out.append(MCPTool(connection, spec, name=name))
        return out

    def find(self, name: str, reserved: Iterable[str] = ()) -> Tool | None:
        return next((t for t in self.tools(reserved) if t.name == name), None)

    # --- toolset sync ------------------------------------------------------------------------

    def sync(self) -> None:
        """Make the bound ToolSet's MCP tools match the servers' current tools."""
        if self.toolset is None:
            return
        for name in self._synced:
            tool = self.toolset.get(name)
            if tool is not None and tool.source == "mcp":
                self.toolset.remove(name)
        local = {t.name for t in self.toolset.all() if t.source != "mcp"}
        tools = self.tools(reserved=local)
        for tool in tools:
            self.toolset.add(tool)
        self._synced = {t.name for t in tools}

    def _changed(self, _connection: MCPConnection | None = None) -> None:
        self.sync()
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:
                log.exception("MCPManager on_change listener failed")
