"""Who are you? Bearer-key authentication for every non-public route.

The key is read only from the one Authorization header (`Bearer <key>`, scheme
case-insensitive); never from a query string or a cookie. The environment key is the root
admin key; named keys come from the key store. Comparisons are constant-time over SHA-256
digests. Each failure is logged (never the key), audited, and counted towards the
per-address brute-force throttle.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from switchyard.principal import ANONYMOUS, Principal
from switchyard.server.deps import PRINCIPAL_SCOPE_KEY
from switchyard.server.security.audit import client_address
from switchyard.server.security.keys import (
    ROOT_KEY_NAME,
    SCOPES,
    ApiKeyStore,
    expand_scopes,
)
from switchyard.server.security.ratelimit import API_KEY_SCOPE_KEY, Limiter
from switchyard.server.security.responses import (
    UNAUTHORIZED_BODY,
    header,
    header_values,
    send_error,
    send_json,
)
from switchyard.server.security.scopes import is_public, public_path_methods
from switchyard.server.security.settings import SecuritySettings

log = logging.getLogger("switchyard.security")

# "Bearer", then spaces or tabs, then one token with no whitespace in it.
_BEARER = re.compile(r"^[ \t]*bearer[ \t]+(\S+)[ \t]*$", re.IGNORECASE)

PUBLIC_PRINCIPAL = Principal(name=None, scopes=frozenset(), is_root=False)
ROOT_PRINCIPAL = Principal(name=ROOT_KEY_NAME, scopes=frozenset(SCOPES), is_root=True)


def parse_authorization(scope: dict[str, Any]) -> tuple[str | None, bool, str]:
    """(token, hasKey, problem). Exactly one well-formed `Bearer <token>` header, or nothing."""
    return parse_bearer(header_values(scope, b"authorization"))


def parse_bearer(values: list[str]) -> tuple[str | None, bool, str]:
    """(token, hasKey, problem) from the Authorization header values, in order."""
    if not values:
        return None, False, "missing"
    if len(values) > 1:
        return None, True, "multiple_headers"
    value = values[0]
    if not value.strip():
        return None, False, "empty"
    match = _BEARER.match(value)
    if not match:
        return None, True, "malformed"
    return match.group(1), True, "ok"


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


class AuthMiddleware:
    def __init__(self, app: ASGIApp, *, settings: SecuritySettings, keys: ApiKeyStore | None = None,
                 audit: Any = None, limiter: Limiter | None = None) -> None:
        self.app = app
        self.settings = settings
        self.keys = keys
        self.audit = audit
        self.limiter = limiter
        self._root_digest = _digest(settings.root_key) if settings.root_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        path = scope["path"]
        allowed = public_path_methods(path)
        if allowed is not None and method not in allowed and scope["type"] == "http":
            # A public path answers only GET/HEAD: TRACE or POST there is 405 in every mode
            # (a 401 would suggest that a key could make it work).
            await send_error(send, 405, "method_not_allowed", f"{method} is not allowed on {path}; "
                             f"use {' or '.join(sorted(allowed))}.", headers=[("allow", ", ".join(sorted(allowed)))])
            return
        if not self.settings.auth_required:
            scope[PRINCIPAL_SCOPE_KEY] = ANONYMOUS
            await self.app(scope, receive, send)
            return
        if is_public(method, path):
            scope[PRINCIPAL_SCOPE_KEY] = PUBLIC_PRINCIPAL
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            # No websocket routes are served; refuse rather than guess.
            await send({"type": "websocket.close", "code": 1008})
            return
        if self.settings.misconfigured:
            await send_error(send, 500, "auth_misconfigured", self.settings.config_error_message(),
                             title="Configuration Error")
            return

        address = client_address(scope) or "unknown"
        if self.limiter is not None and self.limiter.failure_items:
            wait = await self.limiter.auth_blocked(address)
            if wait is not None:
                retry = str(int(wait + 0.999))
                log.warning("authentication throttled: too many failed attempts path=%s client=%s",
                            path, address)
                await send_error(send, 429, "auth_throttled",
                                 f"Too many failed authentication attempts from this address. Retry after {retry} s.",
                                 headers=[("retry-after", retry)])
                return

        token, has_key, problem = parse_authorization(scope)
        reason = problem
        if token is not None:
            principal, record, reason = await self._identify(token)
            if principal is not None:
                scope[PRINCIPAL_SCOPE_KEY] = principal
                if record is not None:
                    scope[API_KEY_SCOPE_KEY] = record
                log.debug("authorized %s %s as %s", method, path, principal.name)
                await self.app(scope, receive, send)
                return
        await self._fail(scope, send, address, has_key, reason)

    async def _identify(self, token: str) -> tuple[Principal | None, Any, str]:
        if self._root_digest is not None and hmac.compare_digest(_digest(token), self._root_digest):
            return ROOT_PRINCIPAL, None, "ok"
        if self.keys is None or not self.keys.db.is_open:
            return None, None, "invalid"
        verification = await self.keys.verify(token)
        if not verification.ok:
            reason = {"malformed": "invalid", "unknown": "invalid"}.get(verification.reason, verification.reason)
            return None, verification.record, reason
        record = verification.record
        return Principal(name=record.name, scopes=expand_scopes(record.scopes), is_root=False), record, "ok"

    async def _fail(self, scope: Scope, send: Send, address: str, has_key: bool, reason: str) -> None:
        origin = header(scope, b"origin")
        agent = header(scope, b"user-agent")
        path = scope["path"]
        log.warning("Unauthorized API access attempt path=%r hasKey=%s origin=%r userAgent=%r client=%s reason=%s",
                    path[:300], has_key, (origin or "")[:200] or None, (agent or "")[:200] or None,
                    address, reason)
        if self.audit is not None:
            await self.audit.record(scope, "auth.failure", outcome="denied", key_name=None,
                                    details={"reason": reason, "hasKey": has_key,
                                             "origin": origin, "userAgent": (agent or "")[:200] or None})
        if (self.limiter is not None and self.limiter.failure_items and has_key
                and await self.limiter.auth_failed(address)):
            log.warning("too many failed authentications from %s: throttling it", address)
            if self.audit is not None:
                await self.audit.record(scope, "auth.throttled", outcome="denied")
        await send_json(send, 401, UNAUTHORIZED_BODY, headers=[("www-authenticate", "Bearer")])
