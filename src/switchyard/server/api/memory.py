"""Memories (the reference's `/api/memory`): notes an API key keeps for an agent, with tags,
a `source` and a `pinned` flag, filtered and paged. A memory belongs to the key that made it:
other keys get 404 for it and never see it listed; admin keys see all (runtime/memory_access.py).
`?agentId=` names the agent (default: the server's default agent)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.responses import JSONResponse

from switchyard.runtime.memory_access import MemoryAccess
from switchyard.server.deps import agent_for, principal_of
from switchyard.server.routes import RouteGroup

routes = RouteGroup(tags=["memory"], order=90)

MAX_METADATA_CHARS = 10_000
MAX_OFFSET = 2**31 - 1
Tag = Annotated[str, Field(min_length=1, max_length=50)]
MemoryId = Annotated[str, Field(min_length=1, max_length=64)]


class MemoryMetadata(BaseModel):
    """`source` and `pinned`, and any other fields, kept as given."""

    model_config = ConfigDict(extra="allow", strict=True)
    source: Literal["user", "system"] | None = None
    pinned: bool | None = None


def _bounded(metadata: MemoryMetadata | None) -> MemoryMetadata | None:
    if metadata is not None and len(json.dumps(metadata.model_dump(exclude_none=True))) > MAX_METADATA_CHARS:
        raise ValueError(f"at most {MAX_METADATA_CHARS} characters of JSON")
    return metadata


class CreateMemoryBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    content: str = Field(min_length=1, max_length=10_000)
    tags: list[Tag] | None = Field(None, max_length=10)
    metadata: MemoryMetadata | None = None
    _metadata = field_validator("metadata")(_bounded)


class UpdateMemoryBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    content: str | None = Field(None, min_length=1, max_length=10_000)
    tags: list[Tag] | None = Field(None, max_length=10)
    metadata: MemoryMetadata | None = None
    _metadata = field_validator("metadata")(_bounded)


class Memory(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    content: str
    createdAt: int
    updatedAt: int
    tags: list[str] | None = None
    metadata: MemoryMetadata | None = None


class MemoryResult(BaseModel):
    ok: Literal[True]
    memory: Memory


class MemoryList(BaseModel):
    ok: Literal[True]
    memories: list[Memory]


class MemoryDeleted(BaseModel):
    ok: Literal[True]
    message: str


def memories_for(request: Request) -> MemoryAccess:
    return MemoryAccess(agent_for(request), principal_of(request))


def _metadata(body: MemoryMetadata | None) -> dict[str, Any] | None:
    return None if body is None else body.model_dump(exclude_none=True)


@routes.post("/api/memory", scope="chat", status_code=201, response_model=MemoryResult, errors=(404,),
             summary="Keep a memory (owned by the calling key)")
async def create_memory(request: Request, body: CreateMemoryBody) -> JSONResponse:
    memory = await memories_for(request).create(body.content, tags=body.tags, metadata=_metadata(body.metadata))
    return JSONResponse({"ok": True, "memory": memory}, status_code=201)


@routes.get("/api/memory", scope="read", response_model=MemoryList, errors=(404,),
            summary="List memories, newest change first")
async def list_memories(
        request: Request,
        tags: Annotated[str | None, Query(description="Comma-separated: memories with any of these tags")] = None,
        source: Annotated[Literal["user", "system"] | None, Query()] = None,
        pinned: Annotated[bool | None, Query()] = None,
        limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> dict[str, Any]:
    wanted = [t.strip() for t in tags.split(",") if t.strip()] if tags else None
    found = await memories_for(request).list(tags=wanted, source=source, pinned=pinned, limit=limit, offset=offset)
    return {"ok": True, "memories": found}


@routes.get("/api/memory/{id}", scope="read", response_model=MemoryResult, errors=(404,), summary="One memory")
async def get_memory(request: Request, id: MemoryId) -> dict[str, Any]:  # noqa: A002
    return {"ok": True, "memory": await memories_for(request).get(id)}


@routes.put("/api/memory/{id}", scope="chat", response_model=MemoryResult, errors=(404,),
            summary="Change a memory (tags are replaced, metadata is merged)")
async def update_memory(request: Request, id: MemoryId, body: UpdateMemoryBody) -> dict[str, Any]:  # noqa: A002
    memory = await memories_for(request).update(id, content=body.content, tags=body.tags,
                                                metadata=_metadata(body.metadata))
    return {"ok": True, "memory": memory}


@routes.delete("/api/memory/{id}", scope="chat", response_model=MemoryDeleted, errors=(404,),
               summary="Forget a memory")
async def delete_memory(request: Request, id: MemoryId) -> dict[str, Any]:  # noqa: A002
    await memories_for(request).delete(id)
    return {"ok": True, "message": "Memory deleted successfully"}
