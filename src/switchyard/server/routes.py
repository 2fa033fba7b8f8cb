"""One way to register a route, with the scope it needs beside it.

    routes = RouteGroup(tags=["llm"], order=10)

    @routes.get("/api/llm/current", scope="read", response_model=LLMCurrent, fast=True,
                query=(QueryParam("sessionId", "..."),))
    async def current(request: Request) -> dict[str, Any]: ...

    @routes.post("/api/llm/switch", scope="admin", response_model=..., errors=(404,))
    async def switch(request: Request, body: LLMSwitchBody) -> dict[str, Any]: ...

    routes.mount("/mcp", endpoint, methods=["GET", "POST", "DELETE"], scope="chat")

`scope` is one of `public`, `read`, `chat`, `admin`. The scope middleware decides by its table
(security/scopes.py), before routing; when the app is built, `finish_routes` checks every
declaration against that table and refuses an app where they disagree, so the table and the
routes cannot drift apart.
`runs=True` marks a route whose POST starts an agent run (the per-key concurrent-run cap counts
it, security/scopes.py `RUN_ROUTES`), checked the same way.

The kinds of route, and why each exists:
- FastAPI routes (the default): validation of bodies and parameters, OpenAPI.
- `fast=True` GETs (plain_routes.py): polled reads, matched first and called directly.
- `edge=` answers (`/health`): a fast public GET whose constant body is also served before
  the middleware stack and routing when no Host check applies (SwitchyardApp in app.py).
- `mount`: a raw ASGI endpoint (the MCP SDK's session manager).

Each is registered directly on the app: FastAPI keeps an included APIRouter as a nested router
matched level by level, several passes per request; one flat list was measurably cheaper
(bench/http_bench.py). Groups install in `order` (smaller first), so the most used come first.

`response_model` documents the success body in /openapi.json; it is not applied to each
response (no re-validation or reordering; tests check real bodies against the models).
`errors` lists the error statuses the route answers besides 400 (documented with the error
envelope instead of FastAPI's 422).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from fastapi import FastAPI
from starlette.routing import BaseRoute

from switchyard.server.plain_routes import PlainRoute, QueryParam, doc_twin, put_first
from switchyard.server.schemas import error_response_doc

__all__ = ["EdgeAnswer", "QueryParam", "RouteGroup", "RouteSpec", "SCOPES", "discover",
           "finish_routes", "route_specs"]

SCOPES = ("public", "read", "chat", "admin")


@dataclass(frozen=True)
class EdgeAnswer:
    """A constant answer to GET/HEAD, served before the middleware stack where allowed."""

    body: bytes
    content_type: str


@dataclass(frozen=True)
class RouteSpec:
    """What the app serves at one path, and the scope it needs."""

    path: str
    methods: tuple[str, ...]
    scope: str
    kind: str                  # "api" | "fast" | "mount" | "framework"
    runs: bool = False
    name: str = ""
    route: BaseRoute | None = field(default=None, compare=False, repr=False)


@dataclass
class _Declaration:
    kind: str
    path: str
    methods: tuple[str, ...]
    scope: str
    endpoint: Any
    runs: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    query: tuple[QueryParam, ...] = ()
    edge: EdgeAnswer | None = None


def _check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    return scope


class RouteGroup:
    """A family's routes (a module's), declared with decorators and installed on an app."""

    def __init__(self, *, tags: list[str], order: int = 100) -> None:
        self.tags = list(tags)
        self.order = order
        self.declarations: list[_Declaration] = []

    # --- declaring ----------------------------------------------------------------------

    def route(self, path: str, *, methods: Iterable[str], scope: str, summary: str,
              response_model: Any = None, status_code: int | None = None,
              errors: Iterable[int] = (), runs: bool = False, fast: bool = False,
              query: tuple[QueryParam, ...] = (), edge: EdgeAnswer | None = None,
              **options: Any) -> Callable[[Any], Any]:
        methods = tuple(sorted({m.upper() for m in methods}))
        _check_scope(scope)
        if (fast or edge is not None) and methods != ("GET",):
            raise ValueError(f"{path}: only GET routes can be fast")
        if edge is not None and scope != "public":
            raise ValueError(f"{path}: an edge answer is served before authentication: it must be public")
        success = status_code or 200
        responses: dict[int | str, Any] = dict(options.pop("responses", None) or {})
        if response_model is not None:
            responses.setdefault(success, {}).setdefault("model", response_model)
        for status in errors:
            responses.setdefault(status, error_response_doc(status))
        options.update(tags=self.tags, summary=summary, responses=responses)
        if status_code is not None:
            options["status_code"] = status_code

        def register(endpoint: Any) -> Any:
            kind = "fast" if fast or edge is not None else "api"
            self.declarations.append(_Declaration(kind, path, methods, scope, endpoint, runs=runs,
                                                  options=options, query=query, edge=edge))
            return endpoint
        return register

    def get(self, path: str, **kw: Any) -> Callable[[Any], Any]:
        return self.route(path, methods=["GET"], **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Any], Any]:
        return self.route(path, methods=["POST"], **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Any], Any]:
        return self.route(path, methods=["PUT"], **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Any], Any]:
        return self.route(path, methods=["PATCH"], **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Any], Any]:
        return self.route(path, methods=["DELETE"], **kw)

    def mount(self, path: str, endpoint: Any, *, methods: Iterable[str], scope: str,
              runs: bool = False) -> None:
        """A raw ASGI endpoint at `path` (not in the OpenAPI document)."""
        self.declarations.append(_Declaration("mount", path, tuple(sorted({m.upper() for m in methods})),
                                              _check_scope(scope), endpoint, runs=runs))

    # --- installing ---------------------------------------------------------------------

    def install(self, app: FastAPI) -> None:
        """Register every declared route on `app` (after `prepare(app)`)."""
        specs = route_specs(app)
        for d in self.declarations:
            if d.kind == "api":
                app.add_api_route(d.path, d.endpoint, methods=list(d.methods), **d.options)
                route = app.router.routes[-1]
            elif d.kind == "mount":
                app.router.add_route(d.path, d.endpoint, methods=list(d.methods), include_in_schema=False)
                route = app.router.routes[-1]
            else:
                route = PlainRoute(d.path, d.endpoint)
                app.state.fast_routes.append(route)
                app.state.doc_routes.append(doc_twin(d.path, d.endpoint, query=d.query, response_model=None,
                                                     **d.options))
                if d.edge is not None:
                    app.state.edge_answers[d.path] = d.edge
            specs.append(RouteSpec(d.path, d.methods, d.scope, d.kind, runs=d.runs,
                                   name=getattr(d.endpoint, "__name__", ""), route=route))


def prepare(app: FastAPI) -> None:
    """The app state the groups install into."""
    app.state.route_specs = []
    app.state.fast_routes = []
    app.state.doc_routes = []
    app.state.edge_answers = {}


def route_specs(app: FastAPI) -> list[RouteSpec]:
    """Every route the app serves, with its scope."""
    return app.state.route_specs


def declare_framework_routes(app: FastAPI, public: Iterable[str]) -> None:
    """FastAPI's own routes (the OpenAPI document, the docs UI and its OAuth2 redirect):
    public where listed, else `admin`, which is what the scope table gives a path it does
    not know."""
    framework = {app.openapi_url, app.docs_url, app.swagger_ui_oauth2_redirect_url, app.redoc_url} - {None}
    known = {id(s.route) for s in route_specs(app)}
    public = set(public)
    for route in app.router.routes:
        path = getattr(route, "path", "")
        if id(route) in known or path not in framework:
            continue
        methods = tuple(sorted(getattr(route, "methods", None) or ()))
        route_specs(app).append(RouteSpec(path, methods, "public" if path in public else "admin",
                                          "framework", name=getattr(route, "name", ""), route=route))


def finish_routes(app: FastAPI) -> None:
    """Put the fast routes first (the edge answers are served by the app itself), then check
    that every route was declared, and every declaration against the scope table."""
    from switchyard.server.security.scopes import verify_routes
    known = {id(s.route) for s in route_specs(app)}
    undeclared = [r for r in app.router.routes if id(r) not in known]
    if undeclared:
        raise RuntimeError(f"routes registered without a RouteGroup (no declared scope): {undeclared!r}")
    put_first(app, app.state.fast_routes)
    problems = verify_routes(route_specs(app))
    if problems:
        raise RuntimeError("routes disagree with the scope table (server/security/scopes.py):\n  "
                           + "\n  ".join(problems))


def groups_in(package: str) -> list[RouteGroup]:
    """The `routes` group of every module of `package` (imported to find them)."""
    module = importlib.import_module(package)
    found = []
    for info in pkgutil.iter_modules(module.__path__):
        if info.name.startswith("_"):
            continue
        group = getattr(importlib.import_module(f"{package}.{info.name}"), "routes", None)
        if isinstance(group, RouteGroup):
            found.append(group)
    return found


def discover(*packages: str) -> list[RouteGroup]:
    """The route groups of the packages' modules, in install order."""
    groups = [g for package in packages for g in groups_in(package)]
    return sorted(groups, key=lambda g: g.order)
