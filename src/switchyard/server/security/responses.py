"""Small raw-ASGI JSON responses the security middleware answers with (no route involved)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from starlette.types import Send

UNAUTHORIZED_BODY = {"error": "Unauthorized",
                     "message": "Invalid or missing API key. Provide Authorization: Bearer <api-key> header."}


async def send_json(send: Send, status: int, body: dict[str, Any],
                    headers: Iterable[tuple[str, str]] = ()) -> None:
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
           (b"cache-control", b"no-store")]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


def header_values(scope: dict[str, Any], name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == name]


def header(scope: dict[str, Any], name: bytes) -> str | None:
    values = header_values(scope, name)
    return values[0] if values else None
