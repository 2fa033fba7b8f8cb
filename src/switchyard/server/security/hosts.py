"""Host and Origin checks, and CORS (preflight answered here, before auth).

- Development mode (no auth): the Host header must be a loopback name (localhost, 127.0.0.1,
  ::1, any port) or one of SWITCHYARD_ALLOWED_HOSTS. This stops DNS rebinding: a web page on
  an attacker's domain that resolves to 127.0.0.1 sends its own name as Host.
- Every mode: the Host header is parsed strictly (one header, `host[:port]` and nothing
  else: 400 `host_invalid` otherwise); development mode also requires it.
- Every mode: a request with an Origin header is accepted only from a loopback origin, an
  origin listed in SWITCHYARD_ALLOWED_ORIGINS / DEXTO_ALLOWED_ORIGINS (exact match), one of
  SWITCHYARD_PUBLIC_ORIGINS, or - in development only, where the Host was checked - the
  server's own origin (same Host). Other origins get 403 (public routes are still served, but
  without CORS headers, so the browser does not let the page read them).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchyard.server.security.responses import header, header_values, send_error
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


# RFC 9110 Host: uri-host [ ":" port ], where uri-host is an IP-literal in brackets, or a
# name of letters, digits, '-', '.' (IPv4 included). Nothing else: no userinfo ('@'), no
# path, no spaces, so `127.0.0.1:4211@evil.com` is malformed, not a loopback name.
_HOST = re.compile(r"^(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?))"
                   r"(?::(?P<port>[0-9]{1,5}))?$")


def parse_host(value: str) -> str | None:
    """The host name of a Host header value (lower case, IPv6 without brackets), or None when
    the value is not a well-formed `host[:port]`."""
    match = _HOST.match(value.strip().lower())
    if match is None:
        return None
    port = match.group("port")
    if port is not None and not 0 < int(port) < 65536:
        return None
    if match.group("v6") is not None:
        try:
            ipaddress.IPv6Address(match.group("v6"))
        except ValueError:
            return None
        return match.group("v6")
    return match.group("name")


def host_name(host_header: str) -> str:
    """`example.com:8080` -> `example.com`; `[::1]:3001` -> `::1`; "" when malformed."""
    return parse_host(host_header) or ""


def origin_allowed(origin: str, host_header: str | None, settings: SecuritySettings) -> bool:
    cleaned = origin.strip().rstrip("/")
    if cleaned in settings.allowed_origins or cleaned.lower() in settings.public_origins:
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
    if settings.auth_required:
        # Production: the request's Host is the client's to choose, so "same origin as the
        # Host header" proves nothing; only the configured public origins count (above).
        return False
    # Development: the Host was checked (a loopback name or SWITCHYARD_ALLOWED_HOSTS), so the
    # page was served by this server under the name the client used.
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
        hosts = header_values(scope, b"host")
        host = hosts[0] if hosts else None
        problem = self._host_problem(hosts)
        if problem is not None:
            log.warning("rejected request: %s path=%s client=%s", problem, scope.get("path"),
                        (scope.get("client") or ("?",))[0])
            await self._reject(scope, send, "host_invalid", problem, status=400)
            return
        if self.check_host and host is not None:
            name = host_name(host)
            if not is_loopback_name(name) and name not in self.settings.allowed_hosts:
                log.warning("rejected request with Host %r (not a loopback name) path=%s client=%s",
                            host[:200], scope.get("path"), (scope.get("client") or ("?",))[0])
                await self._reject(scope, send, "host_not_allowed", (
                    "Host header not allowed: in development mode this server answers only "
                    "loopback names (localhost, 127.0.0.1, [::1]). Add names with "
                    "SWITCHYARD_ALLOWED_HOSTS, or run with authentication."))
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
            await send_error(send, 403, "origin_not_allowed",
                             "Cross-origin request not allowed from this origin. Allowed: loopback "
                             "origins and SWITCHYARD_ALLOWED_ORIGINS / DEXTO_ALLOWED_ORIGINS.",
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

    def _host_problem(self, hosts: list[str]) -> str | None:
        """Why the Host header(s) cannot be trusted, or None. Every mode: one header at most,
        well formed. Where the Host is checked (development): one is required (an HTTP/1.0
        request without it cannot show that it was meant for a loopback name)."""
        if len(hosts) > 1:
            return "more than one Host header"
        if not hosts:
            return ("no Host header: in development mode this server needs it to check the "
                    "request is for a loopback name") if self.check_host else None
        if parse_host(hosts[0]) is None:
            return f"malformed Host header {hosts[0][:100]!r}: expected host[:port]"
        return None

    async def _reject(self, scope: Scope, send: Send, code: str, message: str, status: int = 403) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send_error(send, status, code, message)
