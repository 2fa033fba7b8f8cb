"""The MCP routes, `/mcp` (the default agent) and `/agents/{id}/mcp`. The endpoint behind
them (mcp_http.py) and the `mcp` SDK are loaded on the first MCP request: the SDK's import
would otherwise be the largest part of a cold start."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from switchyard.runtime.host import AgentHost
from switchyard.server.routes import RouteGroup


class LazyMCPEndpoint:
    def __init__(self, host: AgentHost, settings: Any) -> None:
        self.host = host
        self.settings = settings
        self.endpoint: Any = None
        self._lock = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.endpoint is None:
            async with self._lock:
                if self.endpoint is None:
                    from switchyard.server.protocols.mcp_http import MCPEndpoint
                    endpoint = MCPEndpoint(self.host, self.settings)
                    await endpoint.start()
                    self.endpoint = endpoint
        await self.endpoint(scope, receive, send)

    async def stop(self) -> None:
        if self.endpoint is not None:
            await self.endpoint.stop()


def install(app: FastAPI, host: AgentHost) -> LazyMCPEndpoint:
    endpoint = LazyMCPEndpoint(host, app.state.settings)
    app.state.mcp = endpoint
    app.state.shutdown_hooks.append(endpoint.stop)
    routes = RouteGroup(tags=["mcp"])
    for path in ("/mcp", "/agents/{agent_id}/mcp"):
        # GET: the server's event stream; POST: a JSON-RPC message (a tool call runs the
        # agent); DELETE: end the MCP session.
        routes.mount(path, endpoint, methods=["GET", "POST", "DELETE"], scope="chat", runs=True)
    routes.install(app)
    return endpoint
