"""Fast routes: polled reads served as plain Starlette routes, ahead of FastAPI's route list.

Why: clients poll a few small GETs (the current model, the agents, the greeting). Through
FastAPI such a GET paid for a linear regex scan over every route before it and for FastAPI's
request handling (dependency solving, response-model serialisation): about 40 of the ~110 µs
an authenticated GET cost in-process (bench/asgi_overhead.py). As a Starlette `Route` placed
first it is matched by one regex and its endpoint is called directly. Nothing else changes:
the security middleware wraps the router whatever the route type, and errors raised here reach
the app's exception handlers like any other route's.

Declare one with `RouteGroup.get(..., fast=True)` (server/routes.py), which also documents it:
FastAPI's OpenAPI generator is handed a documentation-only twin (`doc_twin`) that is never
routed.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional

from fastapi import FastAPI, Query
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route

Endpoint = Callable[[Request], Awaitable[dict[str, Any] | Response]]


@dataclass(frozen=True)
class QueryParam:
    """A query parameter a fast route reads from `request.query_params` (for its docs)."""

    name: str
    description: str


class PlainRoute(Route):
    """A GET route answered by `endpoint(request)`, which returns a JSON-able dict or a Response."""

    def __init__(self, path: str, endpoint: Endpoint) -> None:
        async def handle(request: Request) -> Response:
            result = await endpoint(request)
            return result if isinstance(result, Response) else JSONResponse(result)

        super().__init__(path, handle, methods=["GET"], name=endpoint.__name__)


def doc_twin(path: str, endpoint: Endpoint, *, query: tuple[QueryParam, ...],
             **options: Any) -> APIRoute:
    """An APIRoute with the fast route's path, name, query parameters and responses, for
    FastAPI's OpenAPI generator only (it is never added to the router)."""
    async def documented(**_: Any) -> None:  # never called
        raise NotImplementedError

    documented.__name__ = endpoint.__name__
    documented.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter(q.name, inspect.Parameter.KEYWORD_ONLY, annotation=Optional[str],
                          default=Query(None, description=q.description))
        for q in query])
    return APIRoute(path, documented, methods=["GET"], name=endpoint.__name__, **options)


def put_first(app: FastAPI, routes: list[BaseRoute]) -> None:
    """Put the routes first. A path another route already serves is a programming error:
    moving ahead of it would silently change which one answers."""
    for route in routes:
        probe = {"type": "http", "method": "GET", "path": getattr(route, "path", ""), "root_path": ""}
        for existing in app.router.routes:
            match, _ = existing.matches(probe)
            if match == Match.FULL:
                raise RuntimeError(f"GET {probe['path']} is already served by {existing!r}")
    app.router.routes[:0] = routes
