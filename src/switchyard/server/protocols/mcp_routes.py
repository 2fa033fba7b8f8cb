"""The MCP routes, `/mcp` (the default agent) and `/agents/{id}/mcp`. The endpoint behind
them (mcp_http.py) and the `mcp` SDK are loaded on the first MCP request: the SDK's import
would otherwise be the largest part of a cold start."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from switchyard.runtime.host import AgentHost


class LazyMCPEndpoint:
    def __init__(self, host: AgentHost) -> None:
        self.host = host
        self.endpoint: Any = None
        self._lock = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.endpoint is None:
            async with self._lock:
                if self.endpoint is None:
                    from switchyard.server.protocols.mcp_http import MCPEndpoint
                    endpoint = MCPEndpoint(self.host)
                    await endpoint.start()
                    self.endpoint = endpoint
        await self.endpoint(scope, receive, send)

    async def stop(self) -> None:
        if self.endpoint is not None:
            await self.endpoint.stop()


def install(app: FastAPI, host: AgentHost) -> LazyMCPEndpoint:
    endpoint = LazyMCPEndpoint(host)
    app.state.mcp = endpoint
    app.state.shutdown_hooks.append(endpoint.stop)
    app.router.add_route("/mcp", endpoint, methods=["GET", "POST", "DELETE"], include_in_schema=False)
    app.router.add_route("/agents/{agent_id}/mcp", endpoint, methods=["GET", "POST", "DELETE"],
                         include_in_schema=False)
    return endpoint
