"""builtin-tools' `list_resources` and `get_resource` (the reference's tools-builtins shapes), over
the agent's resource catalog (runtime/resource_catalog.py: its `resources:` files, its MCP
servers' resources, its kept `blob:` files), read through the same checks as
GET /api/resources/{uri}/content.

As in the reference, a failure is an answer the model reads (`success: false`, `error`,
`_hint`), not a tool error. `format: "url"` fails as the reference's does with local storage:
Switchyard keeps resources in its own database and the files where they are, and has no
shareable URL for them. Ours: `format: "content"` returns the resource's text (binary items
described, not sent), at most MAX_CONTENT_CHARS characters of it.
"""

from __future__ import annotations

from typing import Any, Callable, Literal

from pydantic import Field

from switchyard.errors import SwitchyardError
from switchyard.tools.builtin.base import BuiltinTool, ToolInput
from switchyard.tools.context import ToolCallContext

FAMILY = "builtin-tools"
MAX_CONTENT_CHARS = 100_000
_HINT = "Use list_resources to see available resources"


class ListResourcesInput(ToolInput):
    source: Literal["all", "tool", "user", "filesystem", "mcp"] = Field(
        "all", description='Filter by source: "tool" for tool-generated resources, "user" for user-uploaded, '
                           '"filesystem" for the agent\'s files, "mcp" for its MCP servers\' resources, "all"')
    kind: Literal["all", "image", "audio", "video", "binary", "text"] = Field(
        "all", description='Filter by type: "image", "audio", "video", "binary", "text", or "all"')
    limit: int = Field(50, ge=1, le=1000, description="Maximum number of resources to return (default: 50)")


class GetResourceInput(ToolInput):
    reference: str = Field(min_length=1, max_length=2000, description=(
        'The resource reference to access. Formats: "blob:abc123" (from list_resources), '
        '"resource_ref:blob:abc123" (from tool annotations), or a reference list_resources returned '
        "(a file's path, mcp:<server>:<uri>)"))
    format: Literal["url", "metadata", "content"] = Field("url", description=(
        'Output format: "url" for a shareable URL (requires remote storage), "metadata" for resource '
        'information without loading the data, "content" for the resource\'s text'))


class ResourceTools:
    def __init__(self, catalog: Callable[[], Any]) -> None:
        self.catalog = catalog    # -> runtime.resource_catalog.ToolResourceCatalog

    def tools(self) -> dict[str, BuiltinTool[Any]]:
        return {
            "list_resources": BuiltinTool(
                "list_resources", "List available resources (files, images, MCP resources, etc.). Returns "
                "resource references that can be used with get_resource to read them or obtain metadata. "
                "Filter by source (tool/user/filesystem/mcp) or kind (image/audio/video/binary/text).",
                ListResourcesInput, self.list_resources, family=FAMILY),
            "get_resource": BuiltinTool(
                "get_resource", "Access a resource. Use format \"content\" to read its text, \"metadata\" to "
                "get resource information without loading data, \"url\" for a shareable URL (requires remote "
                "storage). References can be obtained from tool result annotations or list_resources.",
                GetResourceInput, self.get_resource, family=FAMILY),
        }

    async def list_resources(self, args: ListResourcesInput, context: ToolCallContext) -> dict[str, Any]:
        try:
            infos = await self.catalog().infos()
        except SwitchyardError as exc:
            return {"success": False, "error": f"Failed to list resources: {exc}", "resources": []}
        chosen = [i for i in infos if i.get("source") != "system"
                  and args.source in ("all", i.get("source")) and args.kind in ("all", i["kind"])][: args.limit]
        return {"success": True, "count": len(chosen), "resources": chosen,
                "_hint": ("Use get_resource with a reference to read it or get its metadata" if chosen
                          else "No resources found matching the criteria")}

    async def get_resource(self, args: GetResourceInput, context: ToolCallContext) -> dict[str, Any]:
        catalog = self.catalog()
        uri = catalog.normalize(args.reference)
        try:
            if not await catalog.exists(uri):
                return {"success": False, "error": f"Resource not found: {args.reference}", "_hint": _HINT}
            if args.format == "metadata":
                info = await catalog.info(uri)
                if info is None:
                    return {"success": False, "error": f"Resource metadata not found: {args.reference}",
                            "_hint": _HINT}
                return {"success": True, "format": "metadata", **info}
            if args.format == "url":
                return {"success": False, "error": "URL generation not available with local storage",
                        "_hint": 'Use format "content" to read the resource, or "metadata" for its details. '
                                 "Switchyard keeps resources locally and cannot generate shareable URLs.",
                        "storeType": "local"}
            return {"success": True, "format": "content", "reference": uri,
                    "contents": _contents(await catalog.read(uri))}
        except SwitchyardError as exc:
            return {"success": False, "error": f"Failed to access resource: {exc}"}


def _contents(read: dict[str, Any]) -> list[dict[str, Any]]:
    """Text items as text (capped), binary ones described: the model gets no base64."""
    out, budget = [], MAX_CONTENT_CHARS
    for item in read.get("contents", []):
        entry: dict[str, Any] = {"uri": item.get("uri"), "mimeType": item.get("mimeType")}
        if isinstance(item.get("text"), str):
            text = item["text"]
            entry["text"] = text[:budget]
            if len(text) > budget:
                entry["truncated"] = True
                entry["totalChars"] = len(text)
            budget = max(0, budget - len(entry["text"]))
        elif isinstance(item.get("blob"), str):
            entry["binary"] = True
            entry["size"] = len(item["blob"]) * 3 // 4 - item["blob"][-2:].count("=")
        out.append(entry)
    return out
