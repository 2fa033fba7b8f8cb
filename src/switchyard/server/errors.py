"""One JSON error envelope for every error answer, of a route or of the security layer:

    {"error": "Not Found", "code": "session_not_found", "message": "...", "details": {...}}

`error` is the HTTP status's reason phrase (the seed's 401 body, `{"error": "Unauthorized",
"message": ...}`, is this shape), `code` a stable machine-readable name, `message` a sentence
for people naming what was wrong, `details` (optional) structured extras such as the
validation `issues` (each with its field `path`) or a refusal's `requiredScope`."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(SwitchyardError)
    async def _ours(_: Request, exc: SwitchyardError) -> JSONResponse:
        if exc.status >= 500:
            log.error("%s: %s", exc.code, exc.message)
        return error_response(exc.status, exc.code, exc.message, exc.details)

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
        return error_response(500, "internal_error", "An unexpected error occurred.")
