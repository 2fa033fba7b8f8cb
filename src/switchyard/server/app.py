"""Assemble the FastAPI application around an AgentHost."""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
from collections.abc import Mapping
from typing import Any, AsyncIterator

from fastapi import FastAPI

from switchyard import __version__
from switchyard.errors import SwitchyardError
from switchyard.runtime.host import AgentHost
from switchyard.server.errors import install_error_handlers
from switchyard.server.openapi import install_openapi
from switchyard.server.pretty import pretty_send, wants_pretty
from switchyard.server.routes import declare_framework_routes, discover, finish_routes
from switchyard.server.routes import prepare as prepare_routes
from switchyard.server.routing_glue import routing_state
from switchyard.server.security.headers import HEADERS as SECURITY_HEADERS
from switchyard.server.settings import ServerSettings

log = logging.getLogger("switchyard.server")


class SwitchyardApp(FastAPI):
    """FastAPI with one fast path: a route declared with an edge answer (`GET /health`, public
    by definition and hit by every load balancer several times a second) is answered before
    the middleware stack and routing (with the same security headers), at close to the cost
    of a bare ASGI app. Only where no Host check applies (`edge` is empty otherwise): in
    development mode the DNS-rebinding check covers /health too."""

    edge: dict[str, tuple[list[tuple[bytes, bytes]], bytes]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.edge and scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            answer = self.edge.get(scope["path"])
            if answer is not None:
                await send({"type": "http.response.start", "status": 200, "headers": answer[0]})
                await send({"type": "http.response.body", "body": answer[1] if scope["method"] == "GET" else b""})
                return
        if b"pretty" in scope.get("query_string", b"") and wants_pretty(scope):
            send = pretty_send(send)     # ?pretty on /api/* (server/pretty.py): not a middleware layer
        await super().__call__(scope, receive, send)


def create_app(host: AgentHost, *, settings: ServerSettings | None = None, shutdown_grace: float = 10.0,
               env: Mapping[str, str] | None = None) -> FastAPI:
    """The app around `host`. `settings`: what the runner built; without them, they are read
    from `env` (default: the process environment) once, here."""
    if settings is None:
        settings = ServerSettings.from_env(os.environ if env is None else env)

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
            for hook in app.state.after_stop_hooks:   # services that outlive the agents' last events
                await hook()

    options: dict[str, Any] = {}
    if "telemetry" in inspect.signature(FastAPI).parameters:
        # Switchyard does not use FastAPI's OpenTelemetry hooks; checking, per request,
        # whether they are configured is measurable on the hot path.
        options["telemetry"] = {"tracing": False, "metrics": False, "logs": False}
    app = SwitchyardApp(title="Switchyard API", version=__version__, lifespan=lifespan,
                        description="Dexto-compatible agent server API.", redoc_url=None, **options)
    app.state.host = host
    host.run_quota.cap = settings.security.max_concurrent_runs
    host.provider_gates.max_concurrency = settings.llm_max_concurrency
    host.provider_gates.queue_timeout = settings.llm_queue_timeout
    app.state.settings = settings
    app.state.auth_required = settings.security.auth_required
    app.state.startup_hooks = []
    app.state.shutdown_hooks = []
    app.state.after_stop_hooks = []
    prepare_routes(app)
    routing = routing_state(host, settings.router)

    async def warm_router() -> None:
        routing.warm()
    app.state.startup_hooks.append(warm_router)
    app.state.shutdown_hooks.append(routing.stop_warming)
    install_error_handlers(app)

    # Every module of server/api with a `routes` group, in the groups' own order.
    for group in discover("switchyard.server.api"):
        group.install(app)

    from switchyard.server.protocols import install_protocols
    install_protocols(app, host)

    # Innermost (added first): after authentication, so a caller without a key learns nothing.
    from switchyard.server.content_type import JsonContentTypeMiddleware
    app.add_middleware(JsonContentTypeMiddleware)

    from switchyard.server.security import install_security
    install_security(app, settings.security)

    from switchyard.server.automation import install_automation
    install_automation(app, host, settings)
    from switchyard.server.model_settings import install_model_settings
    install_model_settings(app, host, settings)

    from switchyard.server.replicas import install_replicas
    install_replicas(app, host, settings)     # several processes, one server (SWITCHYARD_REDIS_URL)

    # Outermost, so that what the security layers refuse is counted too.
    from switchyard.server.observability import install_observability
    install_observability(app)

    declare_framework_routes(app, public=(app.openapi_url, app.docs_url))
    finish_routes(app)
    if not app.state.security.checks_host:
        app.edge = {path: ([(b"content-type", answer.content_type.encode()),
                            (b"content-length", str(len(answer.body)).encode()), *SECURITY_HEADERS],
                           answer.body)
                    for path, answer in app.state.edge_answers.items()}
    install_openapi(app)
    return app
