"""The server's share of observability: every HTTP request counted and timed by route template
(Prometheus), and a server span per request when tracing is on (the parent of the turn's spans).

The middleware is the outermost layer, so requests the security layers refuse (401, 403, 429)
are counted too. `GET /health` answered at the edge (server/app.py) is not: it never reaches
the middleware stack. Labels stay bounded: the route is the template the router matched (a
request refused before routing is matched here, once per distinct path, from a bounded cache),
`<unmatched>` when no route serves the path; unusual methods are `other`.
"""

from __future__ import annotations

import json
import time
from functools import lru_cache
from typing import Any

from fastapi import FastAPI
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchyard.observability import tracing
from switchyard.observability.instruments import enable_metrics

UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Why a 429 was answered (its envelope's `code`); any other code counts as `other`.
LIMIT_CODES = frozenset({"rate_limited", "auth_throttled", "too_many_runs", "queue_full"})
_MEMO_PATH_MAX = 256


def install_observability(app: FastAPI) -> None:
    """Turn the metrics on and add the middleware (call after every other middleware: the
    one added last runs first)."""
    enable_metrics()
    app.add_middleware(ObservabilityMiddleware, routes=app.router.routes)


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, *, routes: list[Any]) -> None:
        self.app = app
        self.metrics = enable_metrics()
        self.routes = routes
        self._recorders: dict[tuple[str, str, int], Any] = {}
        self._match = lru_cache(maxsize=2048)(self._template_of)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        limit_code: list[str] = []
        tracer = tracing.http_tracer() if tracing.current() is not None else None
        span = _start_span(tracer, scope) if tracer is not None else None

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif status == 429 and not limit_code and message["type"] == "http.response.body":
                limit_code.append(_code_of(message.get("body", b"")))
            await send(message)
        try:
            await self.app(scope, receive, watch)
        finally:
            status = status or 500
            method = scope["method"] if scope["method"] in METHODS else "other"
            route = self._route(scope)
            record = self._recorders.get((route, method, status))
            if record is None:
                record = self._recorders[(route, method, status)] = self.metrics.http.recorder(route, method, status)
            record(time.perf_counter() - started)
            if status == 429:
                self.metrics.rate_limited.labels(limit_code[0] if limit_code else "other").inc()
            if span is not None:
                _end_span(span, method, route, status)

    def _route(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is not None:
            return getattr(route, "path", None) or UNMATCHED
        path = scope["path"]
        if len(path) > _MEMO_PATH_MAX:
            return self._template_of(scope["method"], path)
        return self._match(scope["method"], path)

    def _template_of(self, method: str, path: str) -> str:
        """The template of the route serving (method, path): for requests refused before
        routing (the router sets scope["route"] for the others)."""
        probe = {"type": "http", "method": method, "path": path, "root_path": ""}
        partial = None
        for route in self.routes:
            match, _ = route.matches(probe)
            if match == Match.FULL:
                return getattr(route, "path", UNMATCHED)
            if match == Match.PARTIAL and partial is None:
                partial = getattr(route, "path", None)
        return partial or UNMATCHED


def _code_of(body: bytes) -> str:
    try:
        code = json.loads(body).get("code")
    except (ValueError, AttributeError):
        return "other"
    return code if code in LIMIT_CODES else "other"


def _start_span(tracer: Any, scope: Scope) -> Any:
    from opentelemetry import context, propagate, trace
    carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())
               if k in (b"traceparent", b"tracestate")}
    parent = propagate.extract(carrier) if carrier else None
    span = tracer.start_span(scope["method"], context=parent, kind=trace.SpanKind.SERVER,
                             attributes={"http.request.method": scope["method"]})
    token = context.attach(trace.set_span_in_context(span))
    return span, token


def _end_span(started: Any, method: str, route: str, status: int) -> None:
    from opentelemetry import context, trace
    span, token = started
    span.update_name(f"{method} {route}")
    span.set_attributes({"http.route": route, "http.response.status_code": status})
    if status >= 500:
        span.set_status(trace.Status(trace.StatusCode.ERROR))
    span.end()
    try:
        context.detach(token)
    except ValueError:
        pass
