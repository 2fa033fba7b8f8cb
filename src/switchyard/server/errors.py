"""One JSON error envelope for every error answer, of a route or of the security layer:

    {"error": "Not Found", "code": "session_not_found", "message": "...", "details": {...}}

`error` is the HTTP status's reason phrase (the seed's 401 body, `{"error": "Unauthorized",
"message": ...}`, is this shape), `code` a stable machine-readable name, `message` a sentence
for people naming what was wrong, `details` (optional) structured extras such as the
validation `issues` (each with its field `path`) or a refusal's `requiredScope`."""

from __future__ import annotations

import logging
import math
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchyard.errors import SwitchyardError, validation_issues

log = logging.getLogger("switchyard.server")


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_body(status: int, code: str, message: str, details: Any = None,
               title: str | None = None) -> dict[str, Any]:
    """The envelope: the one place its shape is written. `title` replaces the reason phrase
    where the reference server answers another one (its 500 "Configuration Error")."""
    body: dict[str, Any] = {"error": title or reason_phrase(status), "code": code, "message": message}
    if details is not None:
        body["details"] = details
    return body


def error_response(status: int, code: str, message: str, details: Any = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, code, message, details), status_code=status, headers=headers)


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        first = next(e for e in errors if e.get("type") == "json_invalid")
        reason = (first.get("ctx") or {}).get("error", "malformed JSON")
        return error_response(400, "invalid_json", f"request body is not valid JSON: {reason}")
    issues = validation_issues(errors)
    first = issues[0]
    return error_response(400, "validation_failed", f"{first['path']}: {first['message']}",
                          {"issues": issues})


def _unexpected_response(exc: Exception) -> JSONResponse:
    """The answer to an exception no handler claimed. A database that failed is 503 (the
    request may succeed later); the message names the kind of failure, never the statement
    or the exception text, which may carry user data or a secret. The log has both."""
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError
    if isinstance(exc, SQLAlchemyError):
        kind = type(exc.orig).__name__ if isinstance(exc, DBAPIError) and exc.orig is not None else type(exc).__name__
        return error_response(503, "store_unavailable", f"The database failed ({kind}); try again later.",
                              headers={"retry-after": "1"})
    return error_response(500, "internal_error", "An unexpected error occurred.")


class UnexpectedErrorMiddleware:
    """Answers an exception no handler claimed with the JSON envelope and keeps the
    connection. Starlette's own last-resort handler (ServerErrorMiddleware) answers too, but
    then re-raises, and uvicorn closes the keep-alive connection: the client's next request on
    it fails with ECONNRESET (issue 17). Added first, so it wraps the routes directly."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise   # half a response went out: only closing the connection ends it
            log.error("unhandled error on %s %s", scope["method"], scope["path"], exc_info=exc)
            await _unexpected_response(exc)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_middleware(UnexpectedErrorMiddleware)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(SwitchyardError)
    async def _ours(_: Request, exc: SwitchyardError) -> JSONResponse:
        if exc.status >= 500:
            log.error("%s: %s", exc.code, exc.message)
        retry_after = getattr(exc, "retry_after", None)
        headers = {"retry-after": str(max(1, math.ceil(retry_after)))} if retry_after else None
        return error_response(exc.status, exc.code, exc.message, exc.details, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), message,
                               headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Never echo the exception: it may carry a secret. The log has it.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _unexpected_response(exc)
