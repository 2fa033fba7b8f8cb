"""Security middleware: authentication, scopes, limits, hosts and origins, audit.

`install_security(app, settings)` is the one entry point the app calls. The middleware, from the
outside in (Starlette runs the one added last first):

    SecurityHeaders -> RedactErrors -> HostOrigin (CORS preflight) -> BodyLimit -> Auth
    -> RateLimit -> Scope -> JsonBodyGuard -> RunCap -> (UnexpectedErrors, server/errors.py) -> routes
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import FastAPI

from switchyard.logs import register_secret
from switchyard.server.security.audit import AuditLog
from switchyard.server.security.auth import AuthMiddleware
from switchyard.server.security.body_limit import BodyLimitMiddleware
from switchyard.server.security.headers import SecurityHeadersMiddleware
from switchyard.server.security.hosts import HostOriginMiddleware
from switchyard.server.security.json_guard import JsonBodyGuardMiddleware
from switchyard.server.security.keys import ApiKeyStore
from switchyard.server.security.ratelimit import (
    Limiter,
    RateLimitMiddleware,
    RunCapMiddleware,
)
from switchyard.server.security.redact import RedactErrorsMiddleware
from switchyard.server.security.scopes import ScopeMiddleware
from switchyard.server.security.settings import DEFAULT_MAX_BODY_BYTES, SecuritySettings
from switchyard.store.database import Database

__all__ = ["DEFAULT_MAX_BODY_BYTES", "SecuritySettings", "SecurityState", "install_security"]

log = logging.getLogger("switchyard.security")

WEAK_KEY_LENGTH = 16


@dataclass
class SecurityState:
    settings: SecuritySettings
    db: Database          # the server database: keys and audit rows (store/, shared engine)
    keys: ApiKeyStore
    audit: AuditLog
    limiter: Limiter

    @property
    def checks_host(self) -> bool:
        """Whether requests' Host headers are checked (DNS-rebinding defence)."""
        return HostOriginMiddleware.checks_host(self.settings)


def install_security(app: FastAPI, settings: SecuritySettings) -> None:
    register_secret(settings.root_key)
    db = Database(settings.server_database_url())
    state = SecurityState(settings=settings, db=db, keys=ApiKeyStore(db), audit=AuditLog(db),
                          limiter=Limiter(settings))
    app.state.security = state
    app.state.audit = state.audit
    app.state.api_keys = state.keys
    app.state.auth_required = settings.auth_required

    from switchyard.server.security import api
    api.routes.install(app)

    async def startup() -> None:
        await db.open()
        _log_mode(settings)

    async def shutdown() -> None:
        await state.limiter.close()
        await db.close()

    app.state.startup_hooks.append(startup)
    app.state.shutdown_hooks.append(shutdown)

    # Starlette runs the middleware added last first: add from the inside out.
    app.add_middleware(RunCapMiddleware, cap=settings.max_concurrent_runs)
    app.add_middleware(JsonBodyGuardMiddleware)
    app.add_middleware(ScopeMiddleware, audit=state.audit)
    app.add_middleware(RateLimitMiddleware, limiter=state.limiter)
    app.add_middleware(AuthMiddleware, settings=settings, keys=state.keys, audit=state.audit,
                       limiter=state.limiter)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(HostOriginMiddleware, settings=settings)
    app.add_middleware(RedactErrorsMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)


def _log_mode(settings: SecuritySettings) -> None:
    if settings.misconfigured:
        log.error("SECURITY: authentication is required (%s) but neither DEXTO_SERVER_API_KEY nor "
                  "SWITCHYARD_API_KEY is set: every protected route answers 500 until a key is "
                  "configured.", settings.mode_var)
        return
    if settings.auth_required:
        log.info("authentication on (%s); root key from %s; named keys from the key store",
                 settings.mode_var, settings.root_key_var)
        if settings.root_key and len(settings.root_key) < WEAK_KEY_LENGTH:
            log.warning("SECURITY: %s is shorter than %d characters; use a long random key "
                        "(e.g. openssl rand -base64 32)", settings.root_key_var, WEAK_KEY_LENGTH)
        return
    if settings.root_key:
        log.warning("%s is set but authentication is off (development mode): set "
                    "SWITCHYARD_ENV=production or SWITCHYARD_REQUIRE_AUTH=true to require it",
                    settings.root_key_var)
    else:
        log.info("development mode: no authentication (loopback only)")
