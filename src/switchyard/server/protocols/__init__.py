"""Protocol adapters over the agent's runs: A2A (JSON-RPC), MCP (streamable HTTP and stdio)
and an OpenAI-compatible API. Each lives in its own module; all are mounted inside the FastAPI
app, so the security middleware covers them like any other route.

Routes: /jsonrpc and /agents/{id}/jsonrpc (A2A), /agents/{id}/.well-known/agent-card.json,
/mcp and /agents/{id}/mcp (MCP), /v1/chat/completions and /v1/models (OpenAI).
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import FastAPI

from switchyard.runtime.host import AgentHost


def install_protocols(app: FastAPI, host: AgentHost) -> None:
    """Install every protocol's routes: each `<protocol>_routes.py` module of this package has
    an `install(app, host)` that registers them through a RouteGroup (server/routes.py), scopes
    beside them. Only those modules are imported here: they import no protocol SDK (a2a-sdk and
    mcp load on the first request that needs them)."""
    for info in pkgutil.iter_modules(__path__):
        if info.name.endswith("_routes"):
            importlib.import_module(f"{__name__}.{info.name}").install(app, host)
