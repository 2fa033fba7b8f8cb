"""A small MCP server (official SDK v2, `MCPServer`) used by the MCP client tests.

Run over stdio (default) or over HTTP on 127.0.0.1:
    python demo_server.py                                   # stdio
    python demo_server.py --transport streamable-http --port 8123   # endpoint /mcp
    python demo_server.py --transport sse --port 8124               # endpoint /sse
`--name` sets the server name, so two instances can play two different servers.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from mcp.server.mcpserver import Context, MCPServer


def build(name: str = "demo") -> MCPServer:
    server = MCPServer(name, log_level="WARNING")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @server.tool()
    def get_weather(city: str) -> str:
        """Weather for a city (always sunny)."""
        return f"Sunny in {city}, 21 C"

    @server.tool()
    async def slow(seconds: float) -> str:
        """Sleep, then answer."""
        await asyncio.sleep(seconds)
        return f"slept {seconds}"

    @server.tool()
    def crash() -> str:
        """Kill the server process at once (simulates a crashing server)."""
        os._exit(3)

    @server.tool()
    def env_keys() -> list[str]:
        """The names of the environment variables this process sees."""
        return sorted(os.environ)

    @server.tool()
    def pid() -> int:
        """This process's id (tells a restarted server from the first one)."""
        return os.getpid()

    @server.tool()
    async def grow(tool_name: str, ctx: Context) -> str:
        """Add a tool named `tool_name` (it says "hello") and tell the client the list changed."""
        server.add_tool(lambda: "hello", name=tool_name, description="Added at run time")
        await ctx.request_context.session.send_tool_list_changed()
        return f"added {tool_name}"

    @server.resource("demo://greeting", name="greeting", description="A fixed greeting",
                     mime_type="text/plain")
    def greeting() -> str:
        return "Hello from the demo server"

    @server.prompt()
    def greet(name: str) -> str:
        """Ask the model to greet someone."""
        return f"Please greet {name} warmly."

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", choices=["stdio", "streamable-http", "sse"], default="stdio")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--name", default="demo")
    opts = parser.parse_args()
    server = build(opts.name)
    if opts.transport == "stdio":
        server.run()
    else:
        server.run(opts.transport, host="127.0.0.1", port=opts.port)


if __name__ == "__main__":
    main()
