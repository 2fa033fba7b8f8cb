"""Host and Origin checks, and CORS (preflight answered here, before auth).

- Development mode (no auth): the Host header must be a loopback name (localhost, 127.0.0.1,
  ::1, any port) or one of SWITCHYARD_ALLOWED_HOSTS. This stops DNS rebinding: a web page on
  an attacker's domain that resolves to 127.0.0.1 sends its own name as Host.
- Every mode: a request with an Origin header is accepted only from a loopback origin, an
  origin listed in SWITCHYARD_ALLOWED_ORIGINS / DEXTO_ALLOWED_ORIGINS (exact match), or the
  server's own origin (same Host). Other origins get 403 (public routes are still served, but
  without CORS headers, so the browser does not let the page read them).
"""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchyard.server.security.responses import header, send_json
from switchyard.server.security.scopes import is_public
from switchyard.server.security.settings import SecuritySettings

log = logging.getLogger("switchyard.security")

ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD"
ALLOW_HEADERS = "Authorization, Content-Type, Accept, Last-Event-ID, Mcp-Session-Id, Mcp-Protocol-Version"
EXPOSE_HEADERS = ("Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, "
                  "Mcp-Session-Id")
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_loopback_name(hostname: str) -> bool:
    name = hostname.strip().lower().rstrip(".")
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str:
    """`example.com:8080` -> `example.com`; `[::1]:3001` -> `::1`."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def origin_allowed(origin: str, host_header: str | None, settings: SecuritySettings) -> bool:
    cleaned = origin.strip().rstrip("/")
    if cleaned in settings.allowed_origins:
        return True
    try:
        parts = urlsplit(cleaned)
        hostname = parts.hostname
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not hostname:
        return False
    if is_loopback_name(hostname):
        return True
    # Same origin: the page was served by this server under the name the client used.
    return bool(host_header) and parts.netloc.lower() == host_header.strip().lower()


class HostOriginMiddleware:
    @staticmethod
    def checks_host(settings: SecuritySettings) -> bool:
        return (not settings.auth_required and not settings.insecure_no_auth) or bool(settings.allowed_hosts)

    def __init__(self, app: ASGIApp, settings: SecuritySettings) -> None:
        self.app = app
        self.settings = settings
        self.check_host = self.checks_host(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = header(scope, b"host")
        if self.check_host and host is not None:
            name = host_name(host)
            if not is_loopback_name(name) and name not in self.settings.allowed_hosts:
                log.warning("rejected request with Host %r (not a loopback name) path=%s client=%s",
                            host[:200], scope.get("path"), (scope.get("client") or ("?",))[0])
                await self._reject(scope, send, {
                    "error": "Forbidden", "code": "host_not_allowed",
                    "message": ("Host header not allowed: in development mode this server answers only "
                                "loopback names (localhost, 127.0.0.1, [::1]). Add names with "
                                "SWITCHYARD_ALLOWED_HOSTS, or run with authentication.")})
                return
        origin = header(scope, b"origin")
        if origin is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        allowed = origin_allowed(origin, host, self.settings)
        method = scope["method"]
        preflight = method == "OPTIONS" and header(scope, b"access-control-request-method") is not None
        if not allowed:
            if is_public(method, scope["path"]):
                await self.app(scope, receive, send)
                return
            log.warning("rejected cross-origin request from %r path=%s client=%s", origin[:200],
                        scope.get("path"), (scope.get("client") or ("?",))[0])
            await send_json(send, 403, {
                "error": "Forbidden", "code": "origin_not_allowed",
                "message": ("Cross-origin request not allowed from this origin. Allowed: loopback "
                            "origins and SWITCHYARD_ALLOWED_ORIGINS / DEXTO_ALLOWED_ORIGINS.")},
                headers=[("vary", "Origin")])
            return
        cors = [(b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-credentials", b"true"),
                (b"vary", b"Origin")]
        if preflight:
            await send({"type": "http.response.start", "status": 204, "headers": cors + [
                (b"access-control-allow-methods", ALLOW_METHODS.encode()),
                (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
                (b"access-control-max-age", b"600"),
                (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + cors + [
                    (b"access-control-expose-headers", EXPOSE_HEADERS.encode())]
            await send(message)

        await self.app(scope, receive, with_cors)

    async def _reject(self, scope: Scope, send: Send, body: dict) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send_json(send, 403, body)
