"""`?pretty` on `/api/*`: the JSON answer indented by 2 spaces, as the reference's
`prettyJSON()` does (any value of the parameter, even empty, turns it on).

Applied by the app itself (server/app.py, SwitchyardApp), outside the middleware stack, so
that error envelopes from the security layers are indented too and a request without `pretty`
in its query string costs one substring test, not a middleware layer; with it, a JSON body is
buffered and re-encoded (other bodies, such as event streams, pass through as they are).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Message, Scope, Send


def wants_pretty(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    if (b"pretty" not in query or scope["type"] != "http" or scope.get("method") == "HEAD"
            or not scope.get("path", "").startswith("/api/")):
        return False
    return any(name == "pretty" for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True))


def pretty_send(send: Send) -> Send:
    """`send` for a request that asked for ?pretty: a JSON answer is buffered and sent
    indented; any other (an event stream, a file) passes through as it is."""
    start: Message | None = None
    chunks: list[bytes] = []
    passing = False

    async def capture(message: Message) -> None:
        nonlocal start, passing
        if passing:
            await send(message)
            return
        if message["type"] == "http.response.start":
            headers = dict((k.lower(), v) for k, v in message.get("headers", []))
            if headers.get(b"content-type", b"").split(b";")[0].strip() != b"application/json":
                passing = True
                await send(message)
                return
            start = message
            return
        if message["type"] == "http.response.body" and start is not None:
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            await _send_pretty(send, start, b"".join(chunks))
            return
        await send(message)
    return capture


async def _send_pretty(send: Send, start: Message, body: bytes) -> None:
    try:
        body = json.dumps(json.loads(body), indent=2, ensure_ascii=False).encode()
    except ValueError:
        pass    # not JSON after all: sent as it came
    headers: list[Any] = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": body})
