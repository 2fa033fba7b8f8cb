"""An agent's resources, as GET /api/resources lists and reads them (the reference's shapes).

- `mcp:<server>:<uri>`: a resource one of the agent's MCP servers lists. Only what a server
  lists can be read through here (as in the reference): a URI it does not list is 404, so a
  read-scope key cannot ask a server for arbitrary URIs (a file server's templates, say).
- `blob:<id>`: a file the agent keeps (a custom prompt's attachment, store/prompts.py).

Listing asks every connected MCP server at once; one that fails is logged and left out.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import TYPE_CHECKING, Any

from switchyard.errors import NotFoundError
from switchyard.store.prompts import BLOB_SCHEME

if TYPE_CHECKING:
    from switchyard.runtime.agent import Agent

log = logging.getLogger("switchyard.agent")

MCP_SCHEME = "mcp:"
_CONTENT_FIELDS = ("uri", "mimeType", "text", "blob")


def connected_servers(agent: "Agent") -> list[Any]:
    """The agent's MCP connections that are up (an agent without MCP has none)."""
    if agent.mcp is None:
        return []
    connections = [agent.mcp.get(s["id"]) for s in agent.mcp.servers()]
    return [c for c in connections if c.status == "connected"]


async def gather_per_server(agent: "Agent", what: str) -> list[tuple[Any, list[dict[str, Any]]]]:
    """`what` ("prompts" | "resources") of every connected server, asked concurrently."""
    connections = connected_servers(agent)
    results = await asyncio.gather(*(getattr(c, what)() for c in connections), return_exceptions=True)
    out = []
    for connection, result in zip(connections, results):
        if isinstance(result, BaseException):
            log.warning("MCP server '%s': listing %s failed: %s", connection.name, what, result)
            continue
        out.append((connection, result))
    return out


def not_found(uri: str) -> NotFoundError:
    return NotFoundError(f"Resource not found: '{uri}'", code="resource_not_found", details={"uri": uri})


def _derived_name(uri: str) -> str:
    parts = [p for p in uri.replace("\\", "/").split("/") if p]
    return parts[-1] if parts else uri


def mcp_resource(server: str, resource: dict[str, Any]) -> dict[str, Any]:
    """One MCP resource as the reference's GET /api/resources lists it."""
    uri = resource["uri"]
    entry: dict[str, Any] = {"uri": f"{MCP_SCHEME}{server}:{uri}",
                             "name": resource.get("name") or _derived_name(uri),
                             "description": resource.get("description") or f"Resource from MCP server: {server}",
                             "source": "mcp", "serverName": server,
                             "metadata": {"originalUri": uri, "serverName": server}}
    for key in ("mimeType", "size"):
        if resource.get(key) is not None:
            entry[key] = resource[key]
    return entry


def split_mcp_uri(uri: str) -> tuple[str, str]:
    """`mcp:<server>:<uri>` -> (server, uri); NotFoundError for anything else."""
    server, _, inner = uri.removeprefix(MCP_SCHEME).partition(":")
    if not uri.startswith(MCP_SCHEME) or not server or not inner:
        raise not_found(uri)
    return server, inner


class AgentResources:
    """The resources of `agent`. Cheap: one per call."""

    def __init__(self, agent: "Agent") -> None:
        self.agent = agent

    async def list(self) -> list[dict[str, Any]]:
        return [mcp_resource(connection.name, r)
                for connection, listed in await gather_per_server(self.agent, "resources")
                for r in listed]

    def _server(self, name: str, uri: str) -> Any:
        if self.agent.mcp is None or name not in self.agent.mcp:
            raise not_found(uri)
        return self.agent.mcp.get(name)

    async def _listed(self, uri: str) -> tuple[Any, str]:
        server, inner = split_mcp_uri(uri)
        connection = self._server(server, uri)
        # Raises MCPConnectionError (502) when the server is down: not a missing resource.
        if not any(r.get("uri") == inner for r in await connection.resources()):
            raise not_found(uri)
        return connection, inner

    async def read(self, uri: str) -> dict[str, Any]:
        """{contents: [{uri, mimeType?, text?, blob?}], _meta?}, as MCP's ReadResourceResult."""
        if uri.startswith(BLOB_SCHEME):
            blob = await self.agent.store.prompts.blob(self.agent.id, uri)
            if blob is None:
                raise not_found(uri)
            meta = {k: blob[k] for k in ("size", "createdAt", "originalName", "source") if k in blob}
            return {"contents": [{"uri": uri, "mimeType": blob["mimeType"],
                                  "blob": base64.b64encode(blob["data"]).decode("ascii")}], "_meta": meta}
        if not uri.startswith(MCP_SCHEME):
            raise not_found(uri)
        connection, inner = await self._listed(uri)
        contents = await connection.read_resource(inner)
        return {"contents": [{k: c[k] for k in _CONTENT_FIELDS if k in c} for c in contents]}

    async def exists(self, uri: str) -> bool:
        if uri.startswith(BLOB_SCHEME):
            return await self.agent.store.prompts.blob(self.agent.id, uri, with_data=False) is not None
        try:
            await self._listed(uri)
        except NotFoundError:
            return False
        return True
