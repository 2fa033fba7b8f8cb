"""The resources the builtin tools `list_resources` and `get_resource` see (tools/builtin/resources.py):
the agent's catalog of GET /api/resources (its `resources:` files, its MCP servers' resources)
plus its kept files (`blob:`), which the reference's tools list whatever the agent file says,
except the `system` ones (a custom prompt's attachment), as the reference leaves them out.

Every read goes through runtime/resources.AgentResources, so a tool reads exactly what
GET /api/resources/{uri}/content would serve: nothing outside the configured paths, no `.env`,
nothing of the server's own, at most 10 MiB, only what an MCP server lists.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from switchyard.runtime.fs_resources import FS_SCHEME, FilesystemResources, mime_type
from switchyard.runtime.resources import MCP_SCHEME, AgentResources, blob_resource
from switchyard.store.prompts import BLOB_SCHEME

_TEXT_TYPES = ("application/json", "application/xml", "application/yaml")


def kind_of(mime: str) -> str:
    """The reference's kinds (image, audio, video, binary) and ours: `text` for readable text."""
    for prefix in ("image", "audio", "video"):
        if mime.startswith(prefix + "/"):
            return prefix
    return "text" if mime.startswith("text/") or mime in _TEXT_TYPES else "binary"


def _iso(ms: int) -> str:
    return (dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"))


def resource_info(entry: dict[str, Any], blob: dict[str, Any] | None = None) -> dict[str, Any]:
    """One resource as list_resources reports it (the reference's fields, with the source of a
    non-blob resource: `filesystem` or `mcp`)."""
    uri = entry["uri"]
    inner = (entry.get("metadata") or {}).get("originalUri") or uri
    mime = entry.get("mimeType") or mime_type(Path(inner.rsplit("/", 1)[-1]))
    info: dict[str, Any] = {"reference": uri, "kind": kind_of(mime), "mimeType": mime}
    if blob is not None:
        if blob.get("originalName"):
            info["filename"] = blob["originalName"]
        info.update(source=blob.get("source") or "tool", size=blob["size"], createdAt=_iso(blob["createdAt"]))
        return info
    info["filename"] = entry.get("name") or inner.rsplit("/", 1)[-1]
    info["source"] = "mcp" if uri.startswith(MCP_SCHEME) else "filesystem"
    if entry.get("serverName"):
        info["serverName"] = entry["serverName"]
    if entry.get("size") is not None:
        info["size"] = entry["size"]
    if entry.get("lastModified"):
        info["lastModified"] = entry["lastModified"]
    return info


class ToolResourceCatalog:
    """Built per call from the agent: what list_resources / get_resource need."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.resources = AgentResources(agent)

    async def infos(self) -> list[dict[str, Any]]:
        """Every resource, newest first (by createdAt or lastModified; undated ones last)."""
        blobs = {b["uri"]: b for b in await self.agent.store.prompts.list_blobs(self.agent.id)}
        found = {e["uri"]: resource_info(e) for e in await self.resources.list() if e["uri"] not in blobs}
        found.update((uri, resource_info(blob_resource(b), b)) for uri, b in blobs.items())
        return sorted(found.values(), key=lambda i: i.get("createdAt") or i.get("lastModified") or "",
                      reverse=True)

    @staticmethod
    def normalize(reference: str) -> str:
        """The reference's forms (`blob:abc`, `resource_ref:blob:abc`, `@blob:abc`, a bare id)
        and ours: a catalog URI (`mcp:<server>:<uri>`, a file's absolute path or `fs://` path)."""
        ref = reference.strip().removeprefix("resource_ref:").removeprefix("@")
        if ref.startswith((BLOB_SCHEME, MCP_SCHEME, FS_SCHEME)) or FilesystemResources.handles(ref):
            return ref
        return BLOB_SCHEME + ref

    async def exists(self, uri: str) -> bool:
        return await self.resources.exists(uri)

    async def info(self, uri: str) -> dict[str, Any] | None:
        listed = uri.removeprefix(FS_SCHEME) if uri.startswith(FS_SCHEME) else uri
        return next((i for i in await self.infos() if i["reference"] == listed), None)

    async def read(self, uri: str) -> dict[str, Any]:
        return await self.resources.read(uri)
