"""Error bodies never carry a secret: 4xx/5xx JSON and text responses pass the redactor.

Only error responses are buffered (they are small); success bodies and streams pass
untouched, and user content is never rewritten.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchyard.logs import redact

_TEXTUAL = (b"application/json", b"text/plain", b"application/problem+json")
MAX_BUFFER = 1024 * 1024


class RedactErrorsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        passthrough = True

        async def filtered(message: Message) -> None:
            nonlocal start, passthrough, size
            if message["type"] == "http.response.start":
                content_type = b""
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        content_type = value.lower()
                passthrough = message["status"] < 400 or not content_type.startswith(_TEXTUAL)
                if passthrough:
                    await send(message)
                else:
                    start = message
                return
            if passthrough or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if message.get("more_body", False) and size < MAX_BUFFER:
                return
            body = b"".join(chunks)
            chunks.clear()
            cleaned = redact(body.decode("utf-8", "replace")).encode()
            assert start is not None
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            if message.get("more_body", False):
                passthrough = True   # too big to buffer: send what we have, stream the rest
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": cleaned, "more_body": True})
                return
            headers.append((b"content-length", str(len(cleaned)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": cleaned})

        await self.app(scope, receive, filtered)
