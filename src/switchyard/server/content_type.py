"""415 for a request body that is not JSON, before a route tries to read it.

Every body the API takes is JSON (REST, A2A JSON-RPC, the OpenAI-compatible API). Without
this check a form post (`curl -d` sends application/x-www-form-urlencoded) or a text body
was reported as a validation error about the body's fields, which sends people looking in
the wrong place. The MCP endpoints are left to the MCP SDK, which answers its own protocol's
errors.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from switchyard.server.security.responses import header, send_error

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# application/json, application/<anything>+json; parameters (charset) allowed.
_JSON = re.compile(r"^application/(?:[\w.+-]+\+)?json\s*(?:;.*)?$", re.IGNORECASE)
_SDK_PATHS = re.compile(r"^/mcp(/.*)?$|^/agents/[^/]+/mcp(/.*)?$")


def has_body(scope: Scope) -> bool:
    length = header(scope, b"content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return header(scope, b"transfer-encoding") is not None


class JsonContentTypeMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] in BODY_METHODS and has_body(scope)
                and not _SDK_PATHS.match(scope["path"])):
            content_type = header(scope, b"content-type")
            if content_type is None or not _JSON.match(content_type.strip()):
                what = f"Content-Type {content_type[:100]!r}" if content_type else "no Content-Type"
                await send_error(send, 415, "unsupported_media_type",
                                 f"the request body must be JSON (Content-Type: application/json), "
                                 f"not {what}")
                return
        await self.app(scope, receive, send)
