"""Server-Sent Events: run events as `event: <name>` / `data: <json>` frames, with
keep-alive comments while the run is quiet."""

from __future__ import annotations

import json
from contextlib import aclosing
from typing import Any, AsyncIterator

from starlette.responses import StreamingResponse

from switchyard.runtime.events import Event
from switchyard.runtime.run import with_quiet_ticks

KEEPALIVE_SECONDS = 15.0


def frame(event: Event) -> bytes:
    return f"event: {event.name}\ndata: {json.dumps(event.to_dict(), separators=(',', ':'))}\n\n".encode()


async def _frames(events: AsyncIterator[Event], keepalive: float,
                  first: list[bytes] | None = None) -> AsyncIterator[bytes]:
    for chunk in first or ():
        yield chunk
    async with aclosing(with_quiet_ticks(events, keepalive)) as ticks:
        async for event in ticks:
            if event is None:
                yield b": keepalive\n\n"
                continue
            yield frame(event)
            if event.is_terminal:
                return


def event_stream(events: AsyncIterator[Event], *, keepalive: float | None = None,
                 first: list[bytes] | None = None, headers: dict[str, Any] | None = None) -> StreamingResponse:
    return StreamingResponse(
        _frames(events, KEEPALIVE_SECONDS if keepalive is None else keepalive, first),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive",
                 **(headers or {})})
