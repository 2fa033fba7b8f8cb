"""The one SSE reader of the tests: (event, data) pairs from an httpx streaming response."""

from __future__ import annotations

import json
from typing import Any, Iterator

import httpx


def _decoded(data: list[str]) -> Any:
    text = "\n".join(data)
    try:
        return json.loads(text) if text else {}
    except json.JSONDecodeError:
        return text  # e.g. OpenAI's `data: [DONE]`


def iter_sse(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """(event, data) pairs of an SSE body as they arrive, keep-alive comments left out. `data`
    is the decoded JSON (a string when it is not JSON); `event` defaults to "message"."""
    name, data = None, []
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if line == "":
            if name is not None or data:
                yield name or "message", _decoded(data)
            name, data = None, []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
    if name is not None or data:
        yield name or "message", _decoded(data)


def sse_events(response: httpx.Response) -> list[tuple[str, Any]]:
    """The whole SSE body as (event, data) pairs (waits for the end of the stream)."""
    return list(iter_sse(response))
