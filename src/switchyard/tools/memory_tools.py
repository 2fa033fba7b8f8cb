"""The built-in `memory_*` tools: the model keeps, finds, changes and forgets memories for the
user it is talking to (the session's owner, from the call's context), through the same store
as `/api/memory`. Offered when the agent file says `memories: {tools: true}`.

    memory_create {content, tags?, pinned?}      -> the new memory
    memory_list   {tags?, pinned?, limit?}       -> memories, newest change first
    memory_update {id, content?, tags?, pinned?} -> the memory after the change
    memory_delete {id}                           -> confirmation

`memory_tools(book)` makes them over any object with the `MemoryBook` methods (the runtime's
`AgentMemories` in store/memories.py), so this module needs nothing of the store."""

from __future__ import annotations

from typing import Any, Protocol

from switchyard.errors import NotFoundError, ToolError
from switchyard.tools.base import FunctionTool
from switchyard.tools.context import ToolCallContext

MAX_CONTENT = 10_000
MAX_TAGS = 10
MAX_TAG = 50
LIST_LIMIT = 50

_TAGS = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": MAX_TAG},
         "maxItems": MAX_TAGS, "description": "short labels to group memories by"}
_CONTENT = {"type": "string", "minLength": 1, "maxLength": MAX_CONTENT}


class MemoryBook(Protocol):
    async def create(self, owner: str | None, content: str, tags: list[str] | None,
                     metadata: dict[str, Any] | None) -> dict[str, Any]: ...

    async def list(self, owner: str | None, **filters: Any) -> list[dict[str, Any]]: ...

    async def update(self, owner: str | None, memory_id: str, **changes: Any) -> dict[str, Any]: ...

    async def delete(self, owner: str | None, memory_id: str) -> None: ...


def _check(content: str | None, tags: list[str] | None) -> None:
    if content is not None and not (0 < len(content.strip()) and len(content) <= MAX_CONTENT):
        raise ToolError(f"content must be 1 to {MAX_CONTENT} characters")
    if tags is not None and (len(tags) > MAX_TAGS or any(not t or len(t) > MAX_TAG for t in tags)):
        raise ToolError(f"tags: at most {MAX_TAGS}, each 1 to {MAX_TAG} characters")


def memory_tools(book: MemoryBook) -> list[FunctionTool]:
    async def memory_create(content: str, context: ToolCallContext, tags: list[str] | None = None,
                            pinned: bool = False) -> dict[str, Any]:
        _check(content, tags)
        metadata = {"source": "system", "pinned": bool(pinned)}
        return {"memory": await book.create(context.owner, content, tags, metadata)}

    async def memory_list(context: ToolCallContext, tags: list[str] | None = None, pinned: bool | None = None,
                          limit: int = 20) -> dict[str, Any]:
        limit = max(1, min(int(limit), LIST_LIMIT))
        found = await book.list(context.owner, tags=tags or None, pinned=pinned, limit=limit)
        return {"memories": found, "count": len(found)}

    async def memory_update(id: str, context: ToolCallContext, content: str | None = None,  # noqa: A002
                            tags: list[str] | None = None, pinned: bool | None = None) -> dict[str, Any]:
        _check(content, tags)
        try:
            memory = await book.update(context.owner, id, content=content, tags=tags,
                                       metadata=None if pinned is None else {"pinned": pinned})
        except NotFoundError as exc:
            raise ToolError(exc.message) from None
        return {"memory": memory}

    async def memory_delete(id: str, context: ToolCallContext) -> dict[str, Any]:  # noqa: A002
        try:
            await book.delete(context.owner, id)
        except NotFoundError as exc:
            raise ToolError(exc.message) from None
        return {"deleted": True, "id": id}

    return [
        FunctionTool(memory_create, description="Remember something about the user or the work for later "
                     "conversations (a short, self-contained note).", input_schema={
                         "type": "object", "required": ["content"], "additionalProperties": False,
                         "properties": {"content": _CONTENT, "tags": _TAGS,
                                        "pinned": {"type": "boolean", "description": "always keep in mind"}}}),
        FunctionTool(memory_list, description="List the memories kept for this user, newest change first.",
                     input_schema={"type": "object", "additionalProperties": False, "properties": {
                         "tags": {**_TAGS, "description": "only memories with any of these tags"},
                         "pinned": {"type": "boolean"},
                         "limit": {"type": "integer", "minimum": 1, "maximum": LIST_LIMIT}}}),
        FunctionTool(memory_update, description="Change a memory (by id): its content, tags (replaced) or "
                     "pinned flag.", input_schema={
                         "type": "object", "required": ["id"], "additionalProperties": False,
                         "properties": {"id": {"type": "string", "minLength": 1}, "content": _CONTENT,
                                        "tags": _TAGS, "pinned": {"type": "boolean"}}}),
        FunctionTool(memory_delete, description="Forget a memory (by id).", input_schema={
            "type": "object", "required": ["id"], "additionalProperties": False,
            "properties": {"id": {"type": "string", "minLength": 1}}}),
    ]
