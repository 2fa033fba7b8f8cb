"""A minimal OpenAI-compatible streaming server for benchmarks, in its own process so that
its CPU is not counted as the server's. A user message starting with `latency` is answered
with chunks that carry the time they were sent (time.time_ns()), 50 ms apart."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route


def _chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
    body = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "bench",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else []}
    if usage is not None:
        body["usage"] = usage
    return b"data: " + json.dumps(body).encode() + b"\n\n"


async def completions(request: Request) -> StreamingResponse:
    body = await request.json()
    last = body["messages"][-1].get("content") or ""
    text = last if isinstance(last, str) else json.dumps(last)

    async def stream():
        yield _chunk({"role": "assistant", "content": ""})
        if text.startswith("latency"):
            for _ in range(10):
                await asyncio.sleep(0.05)
                yield _chunk({"content": f"<{time.time_ns()}>"})
        else:
            yield _chunk({"content": "bench "})
            yield _chunk({"content": "reply"})
        yield _chunk({}, "stop")
        yield _chunk({}, usage={"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12})
        yield b"data: [DONE]\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False,
                loop="uvloop", http="httptools")
