"""Protocol adapters over the agent's runs: A2A (JSON-RPC), MCP (streamable HTTP and stdio)
and an OpenAI-compatible API. Each lives in its own module; all are mounted inside the FastAPI
app, so the security middleware covers them like any other route.

Routes: /jsonrpc and /agents/{id}/jsonrpc (A2A), /agents/{id}/.well-known/agent-card.json,
/mcp and /agents/{id}/mcp (MCP), /v1/chat/completions and /v1/models (OpenAI).
"""

from __future__ import annotations

from fastapi import FastAPI

from switchyard.runtime.host import AgentHost


def install_protocols(app: FastAPI, host: AgentHost) -> None:
    """Each adapter registers its routes through a RouteGroup (server/routes.py), scopes beside
    them. They are named here rather than found by importing every module of the package: the
    route modules import no protocol SDK (a2a-sdk and mcp load on first use), the others do."""
    from switchyard.server.protocols import a2a_routes, mcp_routes, openai_compat

    a2a_routes.install(app, host)
    mcp_routes.install(app, host)
    openai_compat.install(app, host)
