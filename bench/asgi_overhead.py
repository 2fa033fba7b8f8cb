"""In-process ASGI overhead: an authenticated `GET /api/llm/current` through the whole
Switchyard app vs a bare Starlette JSON endpoint, called directly (no server, no sockets).

    python bench/asgi_overhead.py [N] [ROUNDS]

Variants are interleaved round by round in one process (timings on a small box are noisy);
the best round of each is reported.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import tempfile
import time

KEY = "bench-" + "k" * 40
os.environ.update({
    "SWITCHYARD_REQUIRE_AUTH": "true", "SWITCHYARD_API_KEY": KEY,
    "SWITCHYARD_RATE_LIMIT": "off", "SWITCHYARD_RATE_LIMIT_PER_ADDRESS": "off",
    "SWITCHYARD_HOME": tempfile.mkdtemp(prefix="switchyard-bench-"),
})

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from switchyard.config.loader import parse_agent
from switchyard.server.app import create_app
from switchyard.server.runner import build_host


async def _as_json(_request):
    return JSONResponse({"config": {"provider": "openai-compatible", "model": "bench", "hasApiKey": True}})


def bare_app() -> Starlette:
    return Starlette(routes=[Route("/json", _as_json)])


def _scope(path: str) -> dict:
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "server": ("127.0.0.1", 3001), "client": ("127.0.0.1", 50000),
        "headers": [(b"host", b"127.0.0.1:3001"), (b"user-agent", b"bench"), (b"accept", b"*/*"),
                    (b"authorization", f"Bearer {KEY}".encode())],
        "state": {},
    }


async def _call(app, path: str) -> tuple[int, bytes]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(_scope(path), receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def _time(app, path: str, n: int) -> float:
    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: dict) -> None:
        return None

    scopes = [_scope(path) for _ in range(n)]
    gc.collect()
    start = time.perf_counter()
    for sc in scopes:
        await app(sc, receive, send)
    return (time.perf_counter() - start) / n * 1e6


async def main(n: int, rounds: int) -> None:
    # build_host takes loaded agent files (it was once given [None] for the default agent).
    host = build_host([parse_agent({"agentId": "bench", "llm": {"provider": "echo"},
                                    "storage": {"database": {"type": "in-memory"}}}, env={})])
    app = create_app(host)
    variants = {"bare starlette /json": (bare_app(), "/json"), "switchyard /api/llm/current": (app, "/api/llm/current")}
    async with app.router.lifespan_context(app):
        for name, (a, path) in variants.items():
            status, body = await _call(a, path)
            assert status == 200, (name, status, body[:200])
            await _time(a, path, 200)  # warm up
        best = {name: float("inf") for name in variants}
        for _ in range(rounds):
            for name, (a, path) in variants.items():
                best[name] = min(best[name], await _time(a, path, n))
    floor = best["bare starlette /json"]
    for name, us in best.items():
        print(f"{name:40s} {us:8.1f} µs/request   x{us / floor:5.2f} of bare   "
              f"({floor / us * 100:5.1f}% of bare req/s)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000, int(sys.argv[2]) if len(sys.argv) > 2 else 7))
