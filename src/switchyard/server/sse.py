"""Server-Sent Events: run events as `event: <name>` / `data: <json>` frames, with
keep-alive comments while the run is quiet."""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator

from starlette.responses import StreamingResponse

from switchyard.runtime.events import Event

KEEPALIVE_SECONDS = 15.0


def frame(event: Event) -> bytes:
    return f"event: {event.name}\ndata: {json.dumps(event.to_dict(), separators=(',', ':'))}\n\n".encode()


async def _frames(events: AsyncIterator[Event], keepalive: float,
                  first: list[bytes] | None = None) -> AsyncIterator[bytes]:
    for chunk in first or ():
        yield chunk
    iterator = events.__aiter__()
    pending: asyncio.Future[Event] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=keepalive)
            if not done:
                yield b": keepalive\n\n"
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield frame(event)
            if event.is_terminal:
                return
    finally:
        # The client left or the run ended: stop reading, never stop the run.
        if pending is not None and not pending.done():
            pending.cancel()


def event_stream(events: AsyncIterator[Event], *, keepalive: float | None = None,
                 first: list[bytes] | None = None, headers: dict[str, Any] | None = None) -> StreamingResponse:
    return StreamingResponse(
        _frames(events, KEEPALIVE_SECONDS if keepalive is None else keepalive, first),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive",
                 **(headers or {})})
