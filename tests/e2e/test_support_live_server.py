"""The `live_server` fixture (tests/support/fixtures.py): a real uvicorn server on a free
loopback port, stopped after the test."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


def test_live_server_fixture_serves_an_app(live_server):
    async def hello(request):
        return PlainTextResponse("hello")

    server = live_server(lambda: Starlette(routes=[Route("/", hello)]))
    assert server.url.startswith("http://127.0.0.1:")
    with server.client() as c:
        assert c.get("/").text == "hello"
