"""May you? One central table of which scope each route needs, and the middleware that
enforces it. Deny by default: a route not in the table needs `admin`.

The table is matched before routing (a request for a path no route serves is refused or
allowed the same way as its family), so it is written by path family; every route declares
its scope where it is registered (server/routes.py) and `verify_routes` checks the two agree
when the app is built.

Scopes: `read` (GETs), `chat` (send messages, manage its own sessions and memories; implies read),
`admin` (keys, audit, LLM switch, MCP, agent and config management; implies everything).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable, TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

from switchyard.server.deps import PRINCIPAL_SCOPE_KEY
from switchyard.server.security.responses import send_error

READ_METHODS = frozenset({"GET", "HEAD"})
ANY = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
WRITE = ANY - READ_METHODS

# Always open, matched exactly (method and path): nothing else is public.
PUBLIC_ROUTES = frozenset({
    ("GET", "/health"), ("HEAD", "/health"),
    ("GET", "/.well-known/agent-card.json"), ("HEAD", "/.well-known/agent-card.json"),
    ("GET", "/openapi.json"), ("HEAD", "/openapi.json"),
    ("GET", "/docs"), ("HEAD", "/docs"),
})


# Each hosted agent's own A2A card is public like the root card (still matched whole).
_PUBLIC_AGENT_CARD = re.compile(r"^/agents/[^/]+/\.well-known/agent-card\.json$")
# The web UI's static files (server/api/web.py): `/`, `/ui`, and `/ui/<file>` (no `..`). Only
# reads; the API calls the page makes are authenticated like any other client's.
_PUBLIC_UI = re.compile(r"^/(ui(/(?!.*\.\.)[A-Za-z0-9._/-]*)?)?$")


_F = TypeVar("_F", bound=Callable[..., Any])

# Every request asks these questions several times (auth, rate limit, scope, run cap) and the
# answers depend only on (method, path); a request's path is short and repeats (polled GETs,
# the same few message routes), so they are memoised. Long paths are computed each time so
# that the cache's memory stays small whatever clients send.
_MEMO_PATH_MAX = 256


def _memoised(fn: _F) -> _F:
    cached = lru_cache(maxsize=4096)(fn)

    def lookup(method: str, path: str) -> Any:
        return cached(method, path) if len(path) <= _MEMO_PATH_MAX else fn(method, path)

    lookup.__doc__ = fn.__doc__
    return lookup  # type: ignore[return-value]


_PUBLIC_PATHS = frozenset(path for _, path in PUBLIC_ROUTES)


@_memoised
def is_public(method: str, path: str) -> bool:
    return (method, path) in PUBLIC_ROUTES or (
        method in READ_METHODS and bool(_PUBLIC_AGENT_CARD.match(path) or _PUBLIC_UI.match(path)))


def public_path_methods(path: str) -> frozenset[str] | None:
    """The methods a public path answers (GET, HEAD), or None when the path is not public.
    Any other method there is 405, not 401: the path exists and no key would change that."""
    if path in _PUBLIC_PATHS or _PUBLIC_AGENT_CARD.match(path) or _PUBLIC_UI.match(path):
        return READ_METHODS
    return None


def _rule(methods: frozenset[str], pattern: str, scope: str) -> tuple[frozenset[str], re.Pattern[str], str]:
    return methods, re.compile(pattern), scope


_SEG = r"[^/]+"

# First match wins. Order: the admin-only surfaces, then chat actions, then reads.
RULES = [
    # admin: keys, audit, provider keys, model switching and custom models, MCP servers,
    # agents and agent config, webhooks, schedules, local models, caches.
    _rule(ANY, r"^/api/keys(/.*)?$", "admin"),
    _rule(ANY, r"^/api/audit(/.*)?$", "admin"),
    _rule(ANY, r"^/metrics$", "admin"),               # Prometheus scrapes (server/api/metrics.py)
    _rule(ANY, r"^/api/llm/key(/.*)?$", "admin"),
    _rule(WRITE, r"^/api/llm/switch$", "admin"),
    _rule(WRITE, r"^/api/llm/custom-models(/.*)?$", "admin"),
    _rule(WRITE, r"^/api/mcp(/.*)?$", "admin"),
    _rule(ANY, r"^/api/agent/config(/.*)?$", "admin"),
    _rule(WRITE, r"^/api/agents?(/.*)?$", "admin"),
    _rule(ANY, r"^/api/webhooks(/.*)?$", "admin"),
    _rule(WRITE, r"^/api/schedules(/.*)?$", "admin"),
    _rule(WRITE, r"^/api/models(/.*)?$", "admin"),
    _rule(WRITE, r"^/api/openrouter(/.*)?$", "admin"),
    _rule(WRITE, r"^/api/prompts(/.*)?$", "admin"),
    _rule(WRITE, r"^/api/workspaces(/.*)?$", "admin"),
    _rule(WRITE, r"^/api/system-prompt(/.*)?$", "admin"),
    # chat: sending messages, and managing (its own) sessions, queues and approvals; asking
    # the router where a message would go (it may call the router's LLM, like a message).
    _rule(WRITE, r"^/api/message(-sync|-stream)?$", "chat"),
    _rule(WRITE, r"^/api/route$", "chat"),
    _rule(WRITE, r"^/api/reset$", "chat"),
    _rule(WRITE, r"^/api/sessions(/.*)?$", "chat"),
    _rule(WRITE, rf"^/api/(steer|follow-up)/{_SEG}(/.*)?$", "chat"),
    _rule(WRITE, r"^/api/approvals(/.*)?$", "chat"),
    _rule(WRITE, r"^/api/memory(/.*)?$", "chat"),      # a key's memories are its own
    _rule(WRITE, r"^/api/llm/model-picker-state(/.*)?$", "chat"),
    _rule(WRITE, r"^/api/search(/.*)?$", "read"),
    # protocols: A2A JSON-RPC and REST, OpenAI-compatible, MCP.
    _rule(WRITE, r"^/jsonrpc$", "chat"),
    _rule(READ_METHODS, r"^/jsonrpc$", "read"),
    _rule(WRITE, r"^/v1(/.*)?$", "chat"),
    _rule(READ_METHODS, r"^/v1(/.*)?$", "read"),
    _rule(ANY, r"^/mcp(/.*)?$", "chat"),
    _rule(WRITE, rf"^/agents/{_SEG}/(jsonrpc|v1/.*)$", "chat"),
    _rule(READ_METHODS, rf"^/agents/{_SEG}/(jsonrpc|v1/.*)$", "read"),
    _rule(ANY, rf"^/agents/{_SEG}/mcp(/.*)?$", "chat"),
    # read: every other GET of the API.
    _rule(READ_METHODS, r"^/api(/.*)?$", "read"),
]

# Routes that start an agent run (the concurrent-run cap counts them).
RUN_ROUTES = [
    (frozenset({"POST"}), re.compile(r"^/api/message(-sync|-stream)?$")),
    (frozenset({"POST"}), re.compile(r"^/jsonrpc$")),
    (frozenset({"POST"}), re.compile(r"^/v1/chat/completions$")),
    (frozenset({"POST"}), re.compile(r"^/v1/message(:stream|:send)?$")),
    (frozenset({"POST"}), re.compile(r"^/v1/messages?(:stream|:send)?$")),
    (frozenset({"POST"}), re.compile(r"^/mcp$")),
    (frozenset({"POST"}), re.compile(r"^/agents/[^/]+/(jsonrpc|mcp|v1/message:(send|stream))$")),
]


@_memoised
def required_scope(method: str, path: str) -> str | None:
    """The scope a request needs; None for a public route; `admin` for anything unknown."""
    if is_public(method, path):
        return None
    for methods, pattern, scope in RULES:
        if method in methods and pattern.match(path):
            return scope
    return "admin"


@_memoised
def starts_run(method: str, path: str) -> bool:
    return any(method in methods and pattern.match(path) for methods, pattern in RUN_ROUTES)


# Admin changes audited here by route, unless the route records its own row
# (keys: api.py; LLM switch: api/llm.py; MCP servers: api/mcp.py).
_SELF_AUDITED = re.compile(r"^/api/(keys|audit|mcp)(/.*)?$|^/api/llm/switch$")
_AUDIT_ACTIONS = [
    (re.compile(r"^/api/mcp(/.*)?$"), "mcp.change"),
    (re.compile(r"^/api/agent/config(/.*)?$"), "config.change"),
    (re.compile(r"^/api/agents?(/.*)?$"), "agent.change"),
    (re.compile(r"^/api/llm(/.*)?$"), "llm.change"),
    (re.compile(r"^/api/webhooks(/.*)?$"), "webhook.change"),
    (re.compile(r"^/api/schedules(/.*)?$"), "schedule.change"),
]


@_memoised
def audit_action(method: str, path: str) -> str | None:
    """The audit action for an admin write, or None when it is not audited here."""
    if method in READ_METHODS or method == "OPTIONS" or _SELF_AUDITED.match(path):
        return None
    if required_scope(method, path) != "admin":
        return None
    for pattern, action in _AUDIT_ACTIONS:
        if pattern.match(path):
            return action
    return "admin.change"


_PARAM = re.compile(r"\{[^}]+\}")


def verify_routes(specs: Any) -> list[str]:
    """Where declared routes disagree with this table: a scope, public or not, or whether
    the route's POST starts a run. Empty when they agree."""
    problems = []
    for spec in specs:
        path = _PARAM.sub("x", spec.path)   # a sample of the template: one segment per parameter
        for method in spec.methods:
            needed = required_scope(method, path)
            table = "public" if needed is None else needed
            if table != spec.scope:
                problems.append(f"{method} {spec.path} is declared {spec.scope!r}, the table says {table!r}")
            runs = spec.runs and method == "POST"
            if starts_run(method, path) != runs:
                problems.append(f"{method} {spec.path}: declared runs={runs}, the run table says "
                                f"{not runs}")
    return problems


class ScopeMiddleware:
    """403 naming the missing scope; audits admin writes (with their outcome)."""

    def __init__(self, app: ASGIApp, *, audit: Any = None) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        needed = required_scope(method, path)
        principal = scope.get(PRINCIPAL_SCOPE_KEY)
        if needed is not None and principal is not None and needed not in principal.scopes:
            if self.audit is not None:
                await self.audit.record(scope, "scope.denied", outcome="denied",
                                        details={"required": needed})
            await send_error(send, 403, "insufficient_scope",
                             f"This API key lacks the '{needed}' scope required for {method} {path}.",
                             {"requiredScope": needed})
            return
        action = audit_action(method, path) if self.audit is not None else None
        if action is None:
            await self.app(scope, receive, send)
            return
        status = 500

        async def watch(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
        try:
            await self.app(scope, receive, watch)
        finally:
            await self.audit.record(scope, action, outcome="ok" if status < 400 else f"error:{status}",
                                    details={"status": status})
