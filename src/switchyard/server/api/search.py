"""Full-text search over conversations (the reference's `/api/search/*`): ranked hits with
highlighted excerpts, paged, filtered by session and role, and only in the sessions the
caller may see (its own; all for admin keys). SQLite FTS5 or Postgres full-text, by the
agent's database (store/search.py). `?agentId=` names the agent."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query, Request
from pydantic import BaseModel, ConfigDict

from switchyard.runtime.memory_access import SearchAccess
from switchyard.server.deps import agent_for, principal_of
from switchyard.server.routes import RouteGroup
from switchyard.server.schemas import SessionId

routes = RouteGroup(tags=["search"], order=90)

SearchQuery = Annotated[str, Query(min_length=1, max_length=1000, description="Words to find (all of them, stemmed)")]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class MessageHit(_Body):
    sessionId: str
    message: dict[str, Any]
    matchedText: str
    context: str
    messageIndex: int
    snippet: str            # HTML-escaped excerpt, the matches in <mark>


class MessageResults(_Body):
    results: list[MessageHit]
    total: int
    hasMore: bool
    query: str
    options: dict[str, Any]


class SessionHit(_Body):
    sessionId: str
    matchCount: int
    firstMatch: MessageHit | None
    metadata: dict[str, Any]


class SessionResults(_Body):
    results: list[SessionHit]
    total: int
    hasMore: bool
    query: str


def search_for(request: Request) -> SearchAccess:
    return SearchAccess(agent_for(request), principal_of(request))


@routes.get("/api/search/messages", scope="read", response_model=MessageResults, errors=(404,),
            summary="Search messages (full text, best match first)")
async def search_messages(request: Request, q: SearchQuery, limit: Limit = 20, offset: Offset = 0,
                          sessionId: Annotated[SessionId | None, Query()] = None,
                          role: Annotated[Literal["system", "user", "assistant", "tool"] | None, Query()] = None,
                          ) -> dict[str, Any]:
    hits, total = await search_for(request).messages(q, session_id=sessionId, role=role, limit=limit, offset=offset)
    options: dict[str, Any] = {"limit": limit, "offset": offset}
    if sessionId is not None:
        options["sessionId"] = sessionId
    if role is not None:
        options["role"] = role
    return {"results": hits, "total": total, "hasMore": offset + len(hits) < total, "query": q, "options": options}


@routes.get("/api/search/sessions", scope="read", response_model=SessionResults, errors=(404,),
            summary="Sessions whose messages match (full text, best match first)")
async def search_sessions(request: Request, q: SearchQuery, limit: Limit = 20, offset: Offset = 0) -> dict[str, Any]:
    results, total = await search_for(request).sessions(q, limit=limit, offset=offset)
    return {"results": results, "total": total, "hasMore": offset + len(results) < total, "query": q}
