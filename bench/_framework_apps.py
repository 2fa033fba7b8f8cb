"""The framework floor: the same small JSON GET as a bare Starlette app, as the bare app
with the response headers Switchyard's security model adds to an authenticated GET (four
security headers, four RateLimit-* headers) but no check behind them, as a Starlette route
inside an otherwise empty FastAPI app, and as a FastAPI route; nothing else (no middleware,
no auth). Served like `switchyard serve` (uvicorn, uvloop, httptools).

    python bench/_framework_apps.py {bare|bare-with-headers|fastapi-starlette-route|fastapi-route} PORT
"""

from __future__ import annotations

import sys

import uvicorn
from _bare_app import BODY, as_json  # the floor's own endpoint: both benches measure the same
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY",
           "content-security-policy": "frame-ancestors 'none'", "ratelimit-limit": "100000000",
           "ratelimit-remaining": "99999999", "ratelimit-reset": "60", "ratelimit-policy": "100000000;w=60"}


async def as_json_with_headers(_request):  # noqa: ANN001
    return JSONResponse(BODY, headers=HEADERS)


def build(kind: str):  # noqa: ANN201
    if kind == "bare":
        return Starlette(routes=[Route("/json", as_json)])
    if kind == "bare-with-headers":
        return Starlette(routes=[Route("/json", as_json_with_headers)])
    app = FastAPI()
    if kind == "fastapi-starlette-route":
        app.router.routes.insert(0, Route("/json", as_json))
    elif kind == "fastapi-route":
        @app.get("/json")
        async def as_json_fastapi() -> dict:
            return BODY
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    return app


if __name__ == "__main__":
    uvicorn.run(build(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning",
                access_log=False, loop="uvloop", http="httptools")
