"""Server-Sent Events: run events as the reference's `event: <name>` / `data: <json>` frames
(server/wire.py), with keep-alive comments while the run is quiet."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any, AsyncIterator

from starlette.responses import StreamingResponse

from switchyard.events import Event
from switchyard.runtime.run import with_quiet_ticks
from switchyard.server.wire import KEEPALIVE_FRAME, KEEPALIVE_SECONDS, sse_frame

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def _frames(events: AsyncIterator[Event], keepalive: float) -> AsyncIterator[bytes]:
    async with aclosing(with_quiet_ticks(events, keepalive)) as ticks:
        async for event in ticks:
            if event is None:
                yield KEEPALIVE_FRAME
                continue
            yield sse_frame(event)
            if event.is_terminal:
                return


def event_stream(events: AsyncIterator[Event], *, keepalive: float | None = None,
                 headers: dict[str, Any] | None = None) -> StreamingResponse:
    return StreamingResponse(
        _frames(events, KEEPALIVE_SECONDS if keepalive is None else keepalive),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, "Connection": "keep-alive", **(headers or {})})
