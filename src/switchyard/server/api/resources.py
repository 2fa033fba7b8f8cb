"""Resources (the reference's `/api/resources`): what the agent's MCP servers list, the files of
the agent file's `resources:` (filesystem paths, kept blobs) and the files the agent keeps (a
custom prompt's attachment), read by URI (runtime/resources.py, runtime/fs_resources.py).

The URI goes in the path URL-encoded, e.g. `/api/resources/mcp%3Adocs%3Afile%3A%2F%2F%2Freadme.md/content`
for `mcp:docs:file:///readme.md`. `?agentId=` names the agent."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from switchyard.runtime.resources import AgentResources
from switchyard.server.deps import agent_for
from switchyard.server.routes import RouteGroup

routes = RouteGroup(tags=["resources"], order=62)

ResourceUri = Annotated[str, Field(min_length=1, max_length=2000)]


class Resource(BaseModel):
    uri: str = Field(description="mcp:<server>:<the server's uri>, a file's absolute path, or blob:<id>")
    name: str | None = None
    description: str | None = None
    mimeType: str | None = None
    source: Literal["mcp", "internal"]
    serverName: str | None = None
    size: int | None = None
    lastModified: str | None = None
    metadata: dict[str, Any] | None = None


class ResourceListBody(BaseModel):
    ok: Literal[True]
    resources: list[Resource]


class ResourceContentItem(BaseModel):
    uri: str
    mimeType: str | None = None
    text: str | None = None
    blob: str | None = Field(None, description="Base64-encoded bytes")


class ResourceContents(BaseModel):
    contents: list[ResourceContentItem]
    meta: dict[str, Any] | None = Field(None, alias="_meta")


class ResourceContentBody(BaseModel):
    ok: Literal[True]
    content: ResourceContents


def resources_of(request: Request) -> AgentResources:
    return AgentResources(agent_for(request))


@routes.get("/api/resources", scope="read", response_model=ResourceListBody, errors=(404,),
            summary="Resources of the agent's MCP servers and of its `resources:` providers")
async def list_resources(request: Request) -> dict[str, Any]:
    return {"ok": True, "resources": await resources_of(request).list()}


# Before HEAD /api/resources/{uri}: a URI holds `/`, so `{uri}` takes the rest of the path.
@routes.get("/api/resources/{uri:path}/content", scope="read", response_model=ResourceContentBody,
            errors=(400, 403, 404, 502), summary="Read a resource (its URI URL-encoded in the path)")
async def read_resource(request: Request, uri: ResourceUri) -> dict[str, Any]:
    return {"ok": True, "content": await resources_of(request).read(uri)}


@routes.route("/api/resources/{uri:path}", methods=["HEAD"], scope="read",
              responses={200: {"description": "The resource exists"},
                         404: {"description": "No such resource (no body)"}},
              errors=(502,), response_class=Response,   # no body: no content type documented
              summary="Does the resource exist? (no body)")
async def resource_exists(request: Request, uri: ResourceUri) -> Response:
    return Response(status_code=200 if await resources_of(request).exists(uri) else 404)
