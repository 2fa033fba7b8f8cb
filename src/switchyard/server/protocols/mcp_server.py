"""The agent as an MCP server (official `mcp` SDK): one tool and the agent card.

Tool `chat_with_agent {message, sessionId?}` runs one turn and returns the agent's answer.
Without a `sessionId` the turn runs in a throw-away session (deleted afterwards, as the
reference does); with one, it continues (or starts) that stored session, so an MCP client can
hold a conversation. Resource `switchyard://agent/card` (also at the reference's
`dexto://agent/card`) is the A2A agent card as JSON.

The same server is served over streamable HTTP (mcp_http.py) and over stdio (mcp_stdio.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from switchyard import __version__
from switchyard.errors import NotFoundError, SwitchyardError
from switchyard.ids import SESSION_ID, new_id
from switchyard.runtime.agent import Agent
from switchyard.runtime.session_access import SessionAccess
from switchyard.server.deps import principal_in

CARD_URIS = ("switchyard://agent/card", "dexto://agent/card")




def _http_scope(ctx: Context | None) -> dict[str, Any] | None:
    if ctx is None:
        return None
    try:
        request = ctx.request_context.request
    except (ValueError, AttributeError):
        return None
    scope = getattr(request, "scope", None)
    return scope if isinstance(scope, dict) else None


def build_mcp_server(agent: Agent, *, card: Callable[[], dict[str, Any]],
                     path_prefix: str = "") -> MCPServer:
    config = agent.config
    description = config.description
    with _sdk_leaves_logging_alone():
        server = MCPServer(name=config.name, version=__version__, description=description,
                           instructions=f"Talk to the agent '{config.name}' with the chat_with_agent tool. "
                                        "Pass a sessionId to hold a conversation across calls.")

    @server.tool(name="chat_with_agent", title=f"Chat with {config.name}",
                 description=f"Send a message to the agent '{config.name}' and get its answer. "
                             f"{description} Optional sessionId continues a stored conversation; "
                             "without it each call starts fresh.")
    async def chat_with_agent(message: str, sessionId: str | None = None, ctx: Context | None = None) -> str:
        if not message.strip():
            raise ToolError("`message` must not be empty")
        # Over HTTP the caller is the key that authenticated the request; over stdio (no
        # request) it is the local user, the anonymous admin.
        sessions = SessionAccess(agent, principal_in(_http_scope(ctx)))
        if sessionId is not None:
            if not SESSION_ID.match(sessionId):
                raise ToolError("`sessionId` must be 1-200 characters of letters, digits and ._:@-")
            try:
                await sessions.ensure_may_send(sessionId)
            except NotFoundError as exc:
                raise ToolError(exc.message) from None
            return await _generate(agent, sessionId, message, sessions.owner)
        ephemeral = f"mcp-{new_id()}"
        try:
            return await _generate(agent, ephemeral, message, sessions.owner)
        finally:
            await asyncio.shield(_drop(sessions, ephemeral))

    def card_json() -> str:
        return json.dumps(card(), indent=2)

    for uri in CARD_URIS:
        server.resource(uri, name="agentCard" if uri == CARD_URIS[0] else "agentCard (reference URI)",
                        description=f"The A2A agent card of '{config.name}'",
                        mime_type="application/json")(card_json)
    return server


@contextlib.contextmanager
def _sdk_leaves_logging_alone() -> Iterator[None]:
    """MCPServer() calls logging.basicConfig (a Rich handler on the root logger at INFO) when
    the root logger has no handler yet; logging is the application's to configure."""
    import mcp.server.mcpserver.server as sdk_server
    original = sdk_server.configure_logging
    sdk_server.configure_logging = lambda *args, **kwargs: None
    try:
        yield
    finally:
        sdk_server.configure_logging = original


async def _generate(agent: Agent, session_id: str, message: str, owner: str | None) -> str:
    try:
        result = await agent.generate(session_id, message, wait=True, owner=owner)
    except SwitchyardError as exc:
        raise ToolError(f"the agent failed: {exc.message}") from None
    return str(result.get("response") or "")


async def _drop(sessions: SessionAccess, session_id: str) -> None:
    try:
        await sessions.discard(session_id)
    except Exception:
        logging.getLogger("switchyard.mcp").exception("could not delete the session %s", session_id)
