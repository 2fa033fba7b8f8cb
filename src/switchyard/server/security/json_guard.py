"""Refuse JSON request bodies that parse but break what comes after, with a 400 naming why.

Three kinds of body are valid enough for `json.loads` and then fail deep inside the server
(issue 17): nesting thousands of levels deep (RecursionError in the parser or in whatever
walks the value), a lone UTF-16 surrogate such as `"\\ud800"` (a str that cannot be encoded
as UTF-8, so the store, the SSE encoder or the model client fail on it), and integers too
large for the 64-bit columns and counters they end up in (OverflowError). Every route that
reads JSON, the ones FastAPI parses and the protocol endpoints that parse their own
(`/jsonrpc`, `/v1/*`, `/mcp`), sits behind this one check.

The common body costs two `bytes.count` calls and two regex searches in C; the body is parsed
here only when one of those finds a sign of trouble.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchyard.server.security.responses import send_error

MAX_DEPTH = 100
# Python's own limit on converting digits to an int (sys.get_int_max_str_digits): past it
# json.loads raises. Typed fields bound their own numbers (the schema says so); a free-form
# field may hold any JSON number below this.
MAX_INTEGER_DIGITS = 4300

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_OPENERS = (ord("["), ord("{"))
_CLOSERS = (ord("]"), ord("}"))
# A JSON string (escapes skipped) or a bracket: the tokens that decide nesting depth.
_DEPTH_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)
# A surrogate written as an escape, or as the bytes UTF-8 would give one (json.loads decodes
# bytes with "surrogatepass"). Pairs match too: the slow path below tells them apart.
_SURROGATE_HINT = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_LONG_DIGITS = re.compile(rb"\d{%d,}" % (MAX_INTEGER_DIGITS + 1))


class _IntegerTooLarge(ValueError):
    pass


def _checked_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise _IntegerTooLarge(f"an integer of {digits} digits (at most {MAX_INTEGER_DIGITS} are accepted)")
    return int(text)


def _too_deep(body: bytes) -> bool:
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return False
    depth = 0
    for match in _DEPTH_TOKENS.finditer(body):
        first = match.group()[0]
        if first in _OPENERS:
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif first in _CLOSERS:
            depth -= 1
    return False


def _path(parts: tuple[Any, ...]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(body)"


def _lone_surrogate(value: Any) -> tuple[str, str] | None:
    """(field path, the surrogate as an escape) of the first string that is not valid
    Unicode, or None."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                return _path(where), f"\\u{ord(item[exc.start]):04x}"
        elif isinstance(item, dict):
            for key, child in item.items():
                bad = _lone_surrogate(key) if not key.isascii() else None
                if bad is not None:
                    return _path(where) + " (a key)", bad[1]
                stack.append(((*where, key), child))
        elif isinstance(item, list):
            stack.extend(((*where, i), child) for i, child in enumerate(item))
    return None


def json_body_problem(body: bytes) -> tuple[str, str] | None:
    """(error code, message) when `body` is JSON the server must not take, else None. A
    body that is not JSON at all is left to the route, which says so in its own words."""
    if _too_deep(body):
        return "json_too_deep", f"request body: JSON nested deeper than {MAX_DEPTH} levels"
    if not (_SURROGATE_HINT.search(body) or _LONG_DIGITS.search(body)):
        return None
    try:
        value = json.loads(body, parse_int=_checked_int)
    except _IntegerTooLarge as exc:
        return "number_too_large", f"request body: {exc}"
    except (ValueError, RecursionError):
        return None
    bad = _lone_surrogate(value)
    if bad is not None:
        where, char = bad
        return "invalid_unicode", (f"request body: {where} contains a lone UTF-16 surrogate ({char}), "
                                   "which is not a Unicode character")
    return None


class JsonBodyGuardMiddleware:
    """Reads a request body that looks like JSON, checks it (json_body_problem) and hands it
    on unchanged. Sits inside BodyLimitMiddleware, so what it holds is bounded."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client left before sending its body: let the app see that as it would.
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body[:1] in (b"{", b"[") or body.lstrip()[:1] in (b"{", b"["):
            problem = json_body_problem(body)
            if problem is not None:
                code, text = problem
                await send_error(send, 400, code, text)
                return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive),
                       send)


def _replay(first: list[Message], receive: Receive) -> Receive:
    pending = list(first)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
