"""Polled reads served as plain Starlette routes, ahead of FastAPI's route list.

Why: clients poll a few small GETs (the current model, the agents, the greeting). Through
FastAPI such a GET paid for a linear regex scan over every route before it and for FastAPI's
request handling (dependency solving, response-model serialisation): about 40 of the ~110 µs
an authenticated GET cost in-process (bench/asgi_overhead.py). As a Starlette `Route` placed
first it is matched by one regex and its endpoint is called directly. Nothing else changes:
the security middleware wraps the router whatever the route type, and errors raised here reach
the app's exception handlers like any other route's.

FastAPI's OpenAPI generator documents only its own routes, so each plain route carries its
operation and `openapi_operations` hands them to the app's OpenAPI hook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

Endpoint = Callable[[Request], Awaitable[dict[str, Any] | Response]]


@dataclass(frozen=True)
class QueryParam:
    name: str
    description: str


class PlainRoute(Route):
    """A GET route answered by `endpoint(request)`, which returns a JSON-able dict."""

    def __init__(self, path: str, endpoint: Endpoint, *, summary: str, tags: list[str],
                 query: tuple[QueryParam, ...]) -> None:
        async def handle(request: Request) -> Response:
            result = await endpoint(request)
            return result if isinstance(result, Response) else JSONResponse(result)

        super().__init__(path, handle, methods=["GET"], name=endpoint.__name__)
        self.summary = summary
        self.tags = tags
        self.query = query

    def operation(self) -> dict[str, Any]:
        return {
            "tags": self.tags, "summary": self.summary,
            "operationId": f"{self.name}{self.path.replace('/', '_').replace('-', '_')}_get",
            "parameters": [{"name": q.name, "in": "query", "required": False,
                            "description": q.description, "schema": {"type": "string"}}
                           for q in self.query],
            "responses": {"200": {"description": "Successful Response", "content": {
                "application/json": {"schema": {"type": "object", "additionalProperties": True}}}}},
        }


@dataclass
class PlainRouter:
    """Collects a module's plain GET routes (the counterpart of its FastAPI APIRouter)."""

    tags: list[str]
    routes: list[PlainRoute] = field(default_factory=list)

    def get(self, path: str, *, summary: str,
            query: tuple[QueryParam, ...] = ()) -> Callable[[Endpoint], Endpoint]:
        def register(endpoint: Endpoint) -> Endpoint:
            self.routes.append(PlainRoute(path, endpoint, summary=summary, tags=self.tags, query=query))
            return endpoint
        return register


def install_plain_routes(app: FastAPI, router: PlainRouter) -> None:
    """Put the routes first. A path another route already serves is a programming error:
    moving ahead of it would silently change which one answers."""
    for route in router.routes:
        probe = {"type": "http", "method": "GET", "path": route.path, "root_path": ""}
        for existing in app.router.routes:
            match, _ = existing.matches(probe)
            if match == Match.FULL:
                raise RuntimeError(f"GET {route.path} is already served by {existing!r}")
    app.router.routes[:0] = router.routes


def openapi_operations(app: FastAPI) -> dict[str, dict[str, Any]]:
    """{path: {"get": operation}} for every plain route of the app."""
    return {route.path: {"get": route.operation()}
            for route in app.router.routes if isinstance(route, PlainRoute)}
