"""Small raw-ASGI JSON responses the security middleware answers with (no route involved)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from starlette.types import Send

from switchyard.server.errors import error_body

# The seed's 401 body (`error`, `message`), with the envelope's `code`.
UNAUTHORIZED_BODY = error_body(401, "unauthorized",
                               "Invalid or missing API key. Provide Authorization: Bearer <api-key> header.")


async def send_json(send: Send, status: int, body: dict[str, Any],
                    headers: Iterable[tuple[str, str]] = ()) -> None:
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
           (b"cache-control", b"no-store")]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


async def send_error(send: Send, status: int, code: str, message: str, details: Any = None,
                     headers: Iterable[tuple[str, str]] = (), title: str | None = None) -> None:
    """An error answer in the envelope (server/errors.py), from raw ASGI."""
    await send_json(send, status, error_body(status, code, message, details, title), headers)


def header_values(scope: dict[str, Any], name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == name]


def header(scope: dict[str, Any], name: bytes) -> str | None:
    values = header_values(scope, name)
    return values[0] if values else None
