"""`switchyard serve --mcp-stdio`: the default agent as an MCP server over stdin/stdout, for
MCP clients that launch their servers. Stdout carries only MCP messages; logs go to stderr."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

from switchyard.runtime.host import AgentHost
from switchyard.server.settings import ServerSettings

log = logging.getLogger("switchyard.mcp")


async def serve_stdio_async(host: AgentHost, settings: ServerSettings) -> None:
    from switchyard.server.card import build_card
    from switchyard.server.protocols.mcp_server import build_mcp_server

    agent = host.default

    def card() -> dict[str, Any]:
        return build_card(agent, settings.public_base_url(), auth_required=False)

    server = build_mcp_server(agent, card=card)
    await host.start()
    try:
        log.info("serving agent %s over MCP stdio", agent.id)
        await server.run_stdio_async()
    finally:
        await host.stop(5.0)


def serve_stdio(host: AgentHost, settings: ServerSettings | None = None) -> int:
    # Nothing but protocol messages may reach stdout.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) is sys.stdout:
            handler.setStream(sys.stderr)  # type: ignore[attr-defined]
    try:
        if settings is None:
            settings = ServerSettings.from_env(os.environ)
        asyncio.run(serve_stdio_async(host, settings))
    except KeyboardInterrupt:
        pass
    return 0
