"""An agent's resources, as GET /api/resources lists and reads them (the reference's shapes).

- `mcp:<server>:<uri>`: a resource one of the agent's MCP servers lists. Only what a server
  lists can be read through here (as in the reference): a URI it does not list is 404, so a
  read-scope key cannot ask a server for arbitrary URIs (a file server's templates, say).
- `blob:<id>`: a file the agent keeps (a custom prompt's attachment, store/prompts.py). With
  a `type: blob` entry in the agent file's `resources`, the kept files other than the `system`
  ones (a custom prompt's attachment) are listed, as the reference lists them.
- an absolute path or `fs://<path>`: a file of a `type: filesystem` entry (fs_resources.py).

Listing asks every connected MCP server at once; one that fails is logged and left out.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
from pathlib import Path
from typing import Any

from switchyard.config.resources_schema import BlobResourceConfig, FilesystemResourceConfig
from switchyard.errors import ForbiddenError, NotFoundError
from switchyard.runtime.fs_resources import FilesystemResources
from switchyard.store.prompts import BLOB_SCHEME

log = logging.getLogger("switchyard.agent")

MCP_SCHEME = "mcp:"
_CONTENT_FIELDS = ("uri", "mimeType", "text", "blob")


# `agent` is a runtime.agent.Agent, untyped here: the Agent builds on this module (a cycle otherwise).
def connected_servers(agent: Any) -> list[Any]:
    """The agent's MCP connections that are up (an agent without MCP has none)."""
    if agent.mcp is None:
        return []
    connections = [agent.mcp.get(s["id"]) for s in agent.mcp.servers()]
    return [c for c in connections if c.status == "connected"]


async def gather_per_server(agent: Any, what: str) -> list[tuple[Any, list[dict[str, Any]]]]:
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


def _friendly_size(size: int) -> str:
    value, unit = float(size), "B"
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            break
        value /= 1024
    return f"{size} B" if unit == "B" else f"{round(value, 1):g} {unit}"


def _friendly_type(mime: str) -> str:
    for prefix, name in (("image/", "Image"), ("text/", "Text File"), ("audio/", "Audio File"),
                         ("video/", "Video File")):
        if mime.startswith(prefix):
            return name
    return {"application/pdf": "PDF Document", "application/json": "JSON Data"}.get(mime, "File")


_BLOB_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
                    "image/svg+xml": ".svg", "text/plain": ".txt", "text/markdown": ".md", "text/html": ".html",
                    "text/css": ".css", "application/json": ".json", "application/pdf": ".pdf",
                    "application/xml": ".xml", "audio/mpeg": ".mp3", "audio/wav": ".wav", "video/mp4": ".mp4",
                    "video/webm": ".webm"}


def _blob_name(original: str | None, mime: str, source: str | None) -> str:
    """The reference's display name: the original name when it has an extension, else a name
    from the type (`uploaded-image.png`, `tool-output.txt`, ...) with the type's extension."""
    if original and "." in original:
        return original
    if not original:
        kinds = (("image/", {"user": "uploaded-image", "tool": "generated-image"}, "image"),
                 ("text/", {"tool": "tool-output"}, "text-file"), ("application/pdf", {}, "document"),
                 ("audio/", {}, "audio-file"), ("video/", {}, "video-file"),
                 ("", {"user": "user-upload", "tool": "tool-result"}, "file"))
        by_source, original = next((names, default) for prefix, names, default in kinds if mime.startswith(prefix))
        original = by_source.get(source or "", original)
    extension = _BLOB_EXTENSIONS.get(mime, "")
    return original if original.lower().endswith(extension) else original + extension


def blob_resource(blob: dict[str, Any]) -> dict[str, Any]:
    """A kept file as the reference's blob provider lists it."""
    mime, source = blob["mimeType"], blob.get("source")
    name = _blob_name(blob.get("originalName"), mime, source)
    return {"uri": blob["uri"], "name": name,
            "description": f"{_friendly_type(mime)} ({_friendly_size(blob['size'])})" + (f" • {source}" if source else ""),
            "source": "internal", "size": blob["size"], "mimeType": mime,
            "lastModified": dt.datetime.fromtimestamp(blob["createdAt"] / 1000, dt.timezone.utc)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "metadata": {k: v for k, v in (("type", "blob"), ("source", source), ("createdAt", blob["createdAt"]),
                                           ("originalName", blob.get("originalName"))) if v is not None}}


class AgentResources:
    """The resources of `agent`. Cheap: one per call."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent

    def filesystems(self) -> list[FilesystemResources]:
        """The agent file's `type: filesystem` entries, never serving the server's own files
        (as tools/sandbox.py protects them) nor the agent file."""
        entries = [e for e in self.agent.config.resources if isinstance(e, FilesystemResourceConfig)]
        if not entries:
            return []
        protected = list(self.agent.tooling.protected)
        if self.agent.loaded.path:
            protected.append(Path(self.agent.loaded.path))
        return [FilesystemResources(e, self.agent.loaded.agent_dir, protected) for e in entries]

    def _lists_blobs(self) -> bool:
        return any(isinstance(e, BlobResourceConfig) for e in self.agent.config.resources)

    async def list(self) -> list[dict[str, Any]]:
        found = {entry["uri"]: entry
                 for connection, listed in await gather_per_server(self.agent, "resources")
                 for entry in (mcp_resource(connection.name, r) for r in listed)}
        for provider in self.filesystems():
            found.update((e["uri"], e) for e in await asyncio.to_thread(provider.list))
        if self._lists_blobs():
            found.update((b["uri"], blob_resource(b)) for b in await self.agent.store.prompts.list_blobs(self.agent.id))
        return list(found.values())

    def _read_file(self, uri: str) -> dict[str, Any]:
        """The first filesystem entry that holds `uri` reads it; when none does, the first refusal."""
        refusal: ForbiddenError | None = None
        for provider in self.filesystems():
            try:
                return provider.read(uri)
            except ForbiddenError as exc:
                refusal = refusal or exc
        raise refusal or not_found(uri)

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

    async def read(self, uri: str, *, listed: bool = False) -> dict[str, Any]:
        """{contents: [{uri, mimeType?, text?, blob?}], _meta?}, as MCP's ReadResourceResult.
        `listed`: the caller took `uri` from this agent's `list()` just now, so an MCP server is
        not asked for its listing again to check it (once per resource otherwise)."""
        if uri.startswith(BLOB_SCHEME):
            blob = await self.agent.store.prompts.blob(self.agent.id, uri)
            if blob is None:
                raise not_found(uri)
            meta = {k: blob[k] for k in ("size", "createdAt", "originalName", "source") if k in blob}
            return {"contents": [{"uri": uri, "mimeType": blob["mimeType"],
                                  "blob": base64.b64encode(blob["data"]).decode("ascii")}], "_meta": meta}
        if FilesystemResources.handles(uri):
            return await asyncio.to_thread(self._read_file, uri)
        if not uri.startswith(MCP_SCHEME):
            raise not_found(uri)
        if listed:
            server, inner = split_mcp_uri(uri)
            connection = self._server(server, uri)
        else:
            connection, inner = await self._listed(uri)
        contents = await connection.read_resource(inner)
        return {"contents": [{k: c[k] for k in _CONTENT_FIELDS if k in c} for c in contents]}

    async def exists(self, uri: str) -> bool:
        if uri.startswith(BLOB_SCHEME):
            return await self.agent.store.prompts.blob(self.agent.id, uri, with_data=False) is not None
        if FilesystemResources.handles(uri):
            return any([await asyncio.to_thread(p.exists, uri) for p in self.filesystems()])
        try:
            await self._listed(uri)
        except NotFoundError:
            return False
        return True
