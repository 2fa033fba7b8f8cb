"""Assemble the FastAPI application around an AgentHost."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, AsyncIterator

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from switchyard import __version__
from switchyard.runtime.host import AgentHost
from switchyard.server.errors import install_error_handlers

log = logging.getLogger("switchyard.server")


def create_app(host: AgentHost, *, shutdown_grace: float = 10.0, env: dict[str, str] | None = None) -> FastAPI:
    env = dict(os.environ) if env is None else env

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await host.start()
        for hook in app.state.startup_hooks:
            await hook()
        try:
            yield
        finally:
            for hook in app.state.shutdown_hooks:
                await hook()
            await host.stop(shutdown_grace)

    app = FastAPI(title="Switchyard API", version=__version__, lifespan=lifespan,
                  description="Dexto-compatible agent server API.", redoc_url=None)
    app.state.host = host
    app.state.env = env
    app.state.auth_required = False
    app.state.startup_hooks = []
    app.state.shutdown_hooks = []
    install_error_handlers(app)

    from switchyard.server.api import agents, llm, messages, meta, sessions
    for module in (meta, messages, sessions, llm, agents):
        app.include_router(module.router)

    from switchyard.server.protocols import install_protocols
    install_protocols(app, host)

    from switchyard.server.security import install_security
    install_security(app, env)

    _install_openapi(app)
    return app


def _install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
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
