"""Assemble the FastAPI application around an AgentHost."""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
from typing import Any, AsyncIterator

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from switchyard import __version__
from switchyard.errors import SwitchyardError
from switchyard.runtime.host import AgentHost
from switchyard.server.errors import install_error_handlers
from switchyard.server.plain_routes import openapi_operations
from switchyard.server.security.headers import HEADERS as SECURITY_HEADERS
from switchyard.server.routes import include_flat

log = logging.getLogger("switchyard.server")

_HEALTH_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"2"),
                   *SECURITY_HEADERS]


class SwitchyardApp(FastAPI):
    """FastAPI with one fast path: `GET /health`, public by definition and hit by every load
    balancer several times a second, is answered before the middleware stack and routing
    (with the same security headers), at close to the cost of a bare ASGI app. Only where no
    Host check applies: in development mode the DNS-rebinding check covers /health too."""

    fast_health = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (self.fast_health and scope["type"] == "http" and scope["path"] == "/health"
                and scope["method"] in ("GET", "HEAD")):
            await send({"type": "http.response.start", "status": 200, "headers": _HEALTH_HEADERS})
            await send({"type": "http.response.body", "body": b"OK" if scope["method"] == "GET" else b""})
            return
        await super().__call__(scope, receive, send)


def create_app(host: AgentHost, *, shutdown_grace: float = 10.0, env: dict[str, str] | None = None) -> FastAPI:
    env = dict(os.environ) if env is None else env

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await host.start()
        except SwitchyardError as exc:
            # uvicorn reports a failed startup only as "Application startup failed": say why.
            log.error("startup failed: %s", exc)
            raise
        for hook in app.state.startup_hooks:
            await hook()
        try:
            yield
        finally:
            for hook in app.state.shutdown_hooks:
                await hook()
            await host.stop(shutdown_grace)

    options: dict[str, Any] = {}
    if "telemetry" in inspect.signature(FastAPI).parameters:
        # Switchyard does not use FastAPI's OpenTelemetry hooks; checking, per request,
        # whether they are configured is measurable on the hot path.
        options["telemetry"] = {"tracing": False, "metrics": False, "logs": False}
    app = SwitchyardApp(title="Switchyard API", version=__version__, lifespan=lifespan,
                  description="Dexto-compatible agent server API.", redoc_url=None, **options)
    app.state.host = host
    app.state.env = env
    app.state.auth_required = False
    app.state.startup_hooks = []
    app.state.shutdown_hooks = []
    install_error_handlers(app)

    from switchyard.server.api import agents, llm, messages, meta, sessions
    from switchyard.server.api import approvals, mcp, tools
    for module in (meta, messages, sessions, llm, agents, tools, mcp, approvals):
        include_flat(app, module.router)

    from switchyard.server.protocols import install_protocols
    install_protocols(app, host)

    from switchyard.server.security import install_security
    install_security(app, env)

    # Last, so that they can check no route registered above already serves their paths;
    # each module's go to the front, so the most polled (the current model) is installed last.
    from switchyard.server.plain_routes import install_plain_routes
    for module in (meta, agents, llm):
        install_plain_routes(app, module.plain)
    app.fast_health = not app.state.security.checks_host

    _install_openapi(app)
    return app


def _install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        for path, operations in openapi_operations(app).items():
            schema.setdefault("paths", {}).setdefault(path, {}).update(operations)
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearerAuth": {"type": "http", "scheme": "bearer",
                           "description": "An API key: Authorization: Bearer <api-key>"}}
        schema["security"] = [{"bearerAuth": []}]
        for path in ("/health", "/.well-known/agent-card.json"):
            for operation in schema.get("paths", {}).get(path, {}).values():
                operation["security"] = []
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
