"""Register a module's routes directly on the app.

FastAPI (0.16x) keeps an included APIRouter as a nested router that is matched level by level,
several passes per request; with a dozen route modules that matching was the largest single
cost of a simple authenticated GET (bench/http_bench.py). Re-registering each route on the
app itself, through the public `add_api_route`, keeps one flat list."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute


def include_flat(app: FastAPI, router: APIRouter) -> None:
    for route in router.routes:
        if not isinstance(route, APIRoute):
            app.router.routes.append(route)
            continue
        app.add_api_route(
            route.path, route.endpoint, methods=sorted(route.methods or ()), name=route.name,
            response_model=route.response_model, status_code=route.status_code, tags=route.tags,
            summary=route.summary, description=route.description, responses=route.responses,
            response_class=route.response_class, include_in_schema=route.include_in_schema,
            response_description=route.response_description, deprecated=route.deprecated,
            dependencies=route.dependencies, openapi_extra=route.openapi_extra)
