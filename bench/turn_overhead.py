"""In-process CPU per turn: `POST /api/message-sync` through the whole app (security on, a SQLite
file, the offline echo model) against a bare Starlette JSON POST, called directly as ASGI (no
server, no sockets), interleaved round by round in one process.

    python bench/turn_overhead.py [N] [ROUNDS]

CPU time (time.process_time) rather than wall time: on a shared machine other processes
stretch wall time but not this process's CPU. The ratio to the bare POST is the number to
compare between trees (PYTHONPATH=<tree>/src), in runs made one after the other.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import tempfile
import time

KEY = "bench-" + "k" * 40
HOME = tempfile.mkdtemp(prefix="switchyard-bench-")
os.environ.update({
    "SWITCHYARD_REQUIRE_AUTH": "true", "SWITCHYARD_API_KEY": KEY,
    "SWITCHYARD_RATE_LIMIT": "off", "SWITCHYARD_RATE_LIMIT_PER_ADDRESS": "off",
    "SWITCHYARD_HOME": HOME,
})

from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from switchyard.config.loader import parse_agent  # noqa: E402
from switchyard.runtime.agent import Agent  # noqa: E402
from switchyard.runtime.host import AgentHost  # noqa: E402
from switchyard.server.app import create_app  # noqa: E402

BODY = json.dumps({"content": "hello there, how are you today?"}).encode()


async def _bare(request: Request) -> JSONResponse:
    data = await request.json()
    return JSONResponse({"response": data["content"], "sessionId": "s"})


def _scope(path: str, session: str | None = None) -> dict:
    body = BODY if session is None else json.dumps({"content": "hello again", "sessionId": session}).encode()
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 3001),
            "headers": [(b"host", b"127.0.0.1:3001"), (b"content-type", b"application/json"),
                        (b"authorization", f"Bearer {KEY}".encode()),
                        (b"content-length", str(len(body)).encode())]}, body


async def _call(app, path: str, session: str | None = None) -> int:
    scope, body = _scope(path, session)
    sent = False
    status = 0

    async def receive() -> dict:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _measure(app, path: str, n: int, session: str | None = None) -> float:
    gc.collect()
    start = time.process_time()
    for _ in range(n):
        status = await _call(app, path, session)
        assert status == 200, status
    return (time.process_time() - start) / n * 1e6


async def main(n: int, rounds: int) -> None:
    bare = Starlette(routes=[Route("/bare", _bare, methods=["POST"])])
    loaded = parse_agent({"agentId": "bench", "systemPrompt": "You are terse.",
                          "llm": {"provider": "echo", "model": "echo"},
                          "storage": {"database": {"type": "sqlite", "path": f"{HOME}/bench.db"}}}, env={})
    app = create_app(AgentHost([Agent(loaded)]))
    async with app.router.lifespan_context(app):
        await _measure(app, "/api/message-sync", 50)   # warm: imports, caches
        await _measure(bare, "/bare", 50)
        best = {"bare": float("inf"), "new session": float("inf"), "same session": float("inf")}
        for _ in range(rounds):
            best["bare"] = min(best["bare"], await _measure(bare, "/bare", n))
            best["new session"] = min(best["new session"], await _measure(app, "/api/message-sync", n))
            best["same session"] = min(best["same session"], await _measure(app, "/api/message-sync", n, "one"))
    for name, micros in best.items():
        print(f"{name:14s} {micros:9.1f} µs CPU/request   {micros / best['bare']:6.1f}x bare")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(args + [300, 5][len(args):])))
