"""Open the transport of one MCP server connection: stdio (a child process with a minimal
environment and its stderr kept for error messages), SSE, or streamable HTTP."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from mcp import StdioServerParameters, stdio_client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from switchyard.config.schema import HttpServerConfig, StdioServerConfig
from switchyard.tools.mcp_support import StderrTail, server_environment


async def open_transport(cfg: StdioServerConfig | HttpServerConfig, stack: AsyncExitStack,
                         stderr: StderrTail, timeout: float) -> tuple[Any, Any]:
    """The (read, write) streams of the server, entered on `stack` (closed with it)."""
    if isinstance(cfg, StdioServerConfig):
        params = StdioServerParameters(command=cfg.command, args=cfg.args,
                                       env=server_environment(cfg.env), cwd=cfg.cwd)
        errlog = stderr.open()
        try:
            return await stack.enter_async_context(stdio_client(params, errlog=errlog))
        finally:
            stderr.close_writer()
    headers = dict(cfg.headers) or None
    if cfg.type == "sse":
        return await stack.enter_async_context(sse_client(cfg.url, headers=headers, timeout=timeout))
    client = await stack.enter_async_context(create_mcp_http_client(headers=headers))
    return await stack.enter_async_context(streamable_http_client(cfg.url, http_client=client))
