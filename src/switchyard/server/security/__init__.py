"""Security middleware: authentication, scopes, limits, hosts and origins, audit.

`install_security(app, env)` is the one entry point the app calls.
"""

from __future__ import annotations

from fastapi import FastAPI

from switchyard.server.security.body_limit import BodyLimitMiddleware
from switchyard.server.security.headers import SecurityHeadersMiddleware

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024


def install_security(app: FastAPI, env: dict[str, str]) -> None:
    max_body = int(env.get("SWITCHYARD_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))
    # Starlette runs the middleware added last first: headers wrap everything.
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body)
    app.add_middleware(SecurityHeadersMiddleware)
