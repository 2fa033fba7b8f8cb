"""Prompts (the reference's `/api/prompts`): the agent file's, the custom ones, and those of the
agent's MCP servers, listed, described and resolved with arguments (runtime/prompt_catalog.py).
Custom prompts belong to the agent: making or deleting one needs the admin scope (the scope
table); every key that may read sees them. `?agentId=` names the agent."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from switchyard.errors import RequestError
from switchyard.runtime.prompt_catalog import PromptCatalog
from switchyard.server.deps import agent_for
from switchyard.server.routes import RouteGroup

routes = RouteGroup(tags=["prompts"], order=61)

PromptName = Annotated[str, Field(min_length=1, max_length=300)]
# Standard base64 with its padding (what a strict decoder takes), so the document says it too.
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


class PromptArgument(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(None, max_length=1000)
    required: bool | None = None


class PromptResource(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    data: str = Field(min_length=1, pattern=BASE64, description="The file, base64-encoded")
    mimeType: str = Field(min_length=1, max_length=200, pattern=r"^[\w.+-]+/[\w.+-]+")
    filename: str | None = Field(None, max_length=255)


class CustomPromptBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1, max_length=100, pattern=r"[A-Za-z0-9]",
                      description="Made a slug: 'Code Review!' -> code-review (so it needs a letter or digit)")
    title: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=2000)
    content: str = Field(min_length=1, max_length=100_000, pattern=r"\S",
                         description="The text; {{name}}, $1..$9 and $ARGUMENTS take arguments")
    arguments: list[PromptArgument] | None = Field(None, max_length=50)
    resource: PromptResource | None = None


class PromptInfo(BaseModel):
    name: str
    title: str | None = None
    description: str | None = None
    arguments: list[PromptArgument] | None = None
    userInvocable: bool | None = None
    source: Literal["mcp", "config", "custom"]
    displayName: str | None = None
    commandName: str | None = None
    metadata: dict[str, Any] | None = None


class PromptListBody(BaseModel):
    prompts: list[PromptInfo]


class PromptCreated(BaseModel):
    prompt: PromptInfo


class PromptDefinition(BaseModel):
    name: str
    title: str | None = None
    description: str | None = None
    arguments: list[PromptArgument] | None = None
    userInvocable: bool | None = None


class PromptDefinitionBody(BaseModel):
    definition: PromptDefinition


class ResolvedPrompt(BaseModel):
    text: str
    resources: list[str] = Field(description="URIs of the resources the prompt names")


def catalog(request: Request) -> PromptCatalog:
    return PromptCatalog(agent_for(request))


def _decoded(resource: PromptResource) -> bytes:
    try:
        return base64.b64decode(resource.data, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError("resource.data: not valid base64", details={"issues": [
            {"path": "resource.data", "message": "not valid base64"}]}) from None


def _args(raw: str | None) -> dict[str, Any] | None:
    """`args` is a JSON object; anything else is ignored, as the reference does."""
    if not raw:
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


@routes.get("/api/prompts", scope="read", response_model=PromptListBody, errors=(404,),
            summary="Prompts from MCP servers, the agent file and custom prompts")
async def list_prompts(request: Request) -> dict[str, Any]:
    return {"prompts": await catalog(request).list()}


@routes.post("/api/prompts/custom", scope="admin", status_code=201, response_model=PromptCreated,
             errors=(404, 409), summary="Make a custom prompt (admin), with an optional attached file")
async def create_custom_prompt(request: Request, body: CustomPromptBody) -> JSONResponse:
    names = [a.name for a in body.arguments or []]
    if len(set(names)) != len(names):
        raise RequestError("arguments: two arguments have one name", details={"issues": [
            {"path": "arguments", "message": "argument names must be unique"}]})
    resource = None
    if body.resource is not None:
        resource = {"data": _decoded(body.resource), "mimeType": body.resource.mimeType,
                    "filename": body.resource.filename}
    prompt = {"name": body.name, "content": body.content, "title": body.title or None,
              "description": body.description or None,
              "arguments": [a.model_dump(exclude_none=True) for a in body.arguments] if body.arguments else None}
    created = await catalog(request).create_custom(prompt, resource)
    return JSONResponse({"prompt": created}, status_code=201)


@routes.delete("/api/prompts/custom/{name:path}", scope="admin", status_code=204, errors=(404,),
               responses={204: {"description": "Deleted"}}, summary="Delete a custom prompt (admin)")
async def delete_custom_prompt(request: Request, name: PromptName) -> Response:
    await catalog(request).delete_custom(name)
    return Response(status_code=204)


# Before GET /api/prompts/{name}: a name may hold `/` (MCP prompt names are free-form).
@routes.get("/api/prompts/{name:path}/resolve", scope="read", response_model=ResolvedPrompt,
            errors=(404, 502), summary="A prompt's text with its arguments applied")
async def resolve_prompt(
        request: Request, name: PromptName,
        context: Annotated[str | None, Query(max_length=2000, description="Appended when the prompt "
                                                                             "has no placeholders")] = None,
        args: Annotated[str | None, Query(max_length=2000, description="A JSON object: named arguments, "
                                                                         "and `_positional` (a list)")] = None,
) -> dict[str, Any]:
    return await catalog(request).resolve(name, context=context, args=_args(args))


@routes.get("/api/prompts/{name:path}", scope="read", response_model=PromptDefinitionBody, errors=(404,),
            summary="A prompt's definition: name, title, description, arguments")
async def get_prompt(request: Request, name: PromptName) -> dict[str, Any]:
    return {"definition": await catalog(request).definition(name)}
