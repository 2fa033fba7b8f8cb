"""The floor: a bare Starlette app on the same server stack (uvicorn, uvloop, httptools)."""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def health(_request):  # noqa: ANN001
    return PlainTextResponse("OK")


BODY = {"config": {"provider": "openai-compatible", "model": "bench", "hasApiKey": True}}


async def as_json(_request):  # noqa: ANN001
    return JSONResponse(BODY)


app = Starlette(routes=[Route("/health", health), Route("/json", as_json)])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False,
                loop="uvloop", http="httptools")
