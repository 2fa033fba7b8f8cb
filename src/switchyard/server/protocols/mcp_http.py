"""MCP over streamable HTTP at `/mcp` (the default agent) and `/agents/{id}/mcp`.

The SDK's session manager is mounted as a plain route inside the FastAPI app, so the security
middleware (auth, scopes, limits, hosts/origins) covers it like every other route. It is
stateful: `initialize` opens an MCP session and any number of requests follow in it. A session
is bound to the API key that opened it: another key gets 404, as if it did not exist. The
managers run for the app's lifetime through create_app's startup and shutdown hooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from mcp.server.streamable_http import MCP_SESSION_ID_HEADER
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from switchyard.runtime.agent import Agent
from switchyard.runtime.host import AgentHost
from switchyard.server.deps import PRINCIPAL_SCOPE_KEY
from switchyard.server.protocols.mcp_server import build_mcp_server
from switchyard.server.settings import ServerSettings
from switchyard.server.errors import error_response

log = logging.getLogger("switchyard.mcp")

SESSION_IDLE_TIMEOUT = 30 * 60
MAX_BODY_BYTES = 4 * 1024 * 1024
_SESSION_HEADER = MCP_SESSION_ID_HEADER.lower().encode("latin-1")


class MCPEndpoint:
    """An ASGI app dispatching to one session manager per hosted agent."""

    def __init__(self, host: AgentHost, settings: ServerSettings) -> None:
        self.host = host
        self.settings = settings
        self.base_url = settings.public_base_url()
        self.auth_required = False
        self.managers: dict[str, StreamableHTTPSessionManager] = {}
        self._owners: dict[str, str | None] = {}   # MCP session id -> key name that opened it
        self._stack: contextlib.AsyncExitStack | None = None
        self._holder: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # Managers of agents installed while serving, for the holder task to start.
        self._to_start: asyncio.Queue[tuple[StreamableHTTPSessionManager, asyncio.Future[None]]] | None = None
        self._adding = asyncio.Lock()
        self._served: dict[str, Agent] = {}     # agent id -> the agent its manager was made for
        for agent in host.agents.values():
            self.managers[agent.id] = self._manager_for(agent)
            self._served[agent.id] = agent

    def _manager_for(self, agent: Agent) -> StreamableHTTPSessionManager:
        from switchyard.server.card import agent_prefix, build_card

        prefix = "" if agent.id == self.host.default_id else agent_prefix(agent.id)

        def card() -> dict[str, Any]:
            return build_card(agent.current(), self.base_url, auth_required=self.auth_required, path_prefix=prefix)

        server = build_mcp_server(agent, card=card, path_prefix=prefix)
        return StreamableHTTPSessionManager(
            app=server._lowlevel_server,
            json_response=False, stateless=False, security_settings=None,
            session_idle_timeout=SESSION_IDLE_TIMEOUT, max_request_body_size=MAX_BODY_BYTES)

    async def start(self) -> None:
        """Run the session managers in a task of their own: their task groups must be
        entered and left by one task, and start() runs in a request while stop() runs at
        shutdown. The task also starts the managers of agents installed later (`_add`)."""
        ready, self._stopping = asyncio.Event(), asyncio.Event()
        self._to_start = asyncio.Queue()

        async def hold() -> None:
            async with contextlib.AsyncExitStack() as stack:
                for manager in self.managers.values():
                    await stack.enter_async_context(manager.run())
                self._stack = stack
                ready.set()
                stopping = asyncio.ensure_future(self._stopping.wait())
                while True:
                    added = asyncio.ensure_future(self._to_start.get())
                    await asyncio.wait({stopping, added}, return_when=asyncio.FIRST_COMPLETED)
                    if not added.done():
                        added.cancel()
                        break
                    manager, started = added.result()
                    try:
                        await stack.enter_async_context(manager.run())
                        started.set_result(None)
                    except Exception as exc:  # noqa: BLE001 - told to the request that asked
                        started.set_exception(exc)
            self._stack = None

        self._holder = asyncio.create_task(hold(), name="mcp-session-managers")
        await ready.wait()

    async def stop(self) -> None:
        if self._holder is not None:
            self._stopping.set()
            await self._holder
            self._holder = None

    def _current_manager(self, agent: Agent) -> StreamableHTTPSessionManager | None:
        """The manager serving `agent`: made for it or for an agent it replaced by a new
        configuration; None for an agent installed while serving (or uninstalled and
        installed again: the old manager's agent is gone)."""
        served = self._served.get(agent.id)
        return self.managers[agent.id] if served is not None and served.current() is agent else None

    async def _add(self, agent: Agent) -> StreamableHTTPSessionManager:
        """The manager of an agent installed while serving, made and started on its first
        MCP request (once, whatever the number of requests racing for it)."""
        async with self._adding:
            manager = self._current_manager(agent)
            if manager is not None:
                return manager
            assert self._to_start is not None
            manager = self._manager_for(agent)
            started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            await self._to_start.put((manager, started))
            await started
            self.managers[agent.id], self._served[agent.id] = manager, agent
            log.info("agent %s is served over MCP from now on (installed while serving)", agent.id)
            return manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        agent_id = (scope.get("path_params") or {}).get("agent_id")
        agent = self.host.get(agent_id)  # NotFoundError -> the app's 404 envelope
        if self._stack is None:
            await error_response(503, "unavailable", "MCP is not running (app lifespan not started)")(
                scope, receive, send)
            return
        manager = self._current_manager(agent) or await self._add(agent)
        request = Request(scope)
        self.base_url = self.settings.public_base_url(str(request.base_url))
        self.auth_required = bool(getattr(request.app.state, "auth_required", False)) if "app" in scope else False
        principal = scope.get(PRINCIPAL_SCOPE_KEY)
        caller = getattr(principal, "name", None)
        session_id = request.headers.get(MCP_SESSION_ID_HEADER)
        if session_id is not None and session_id in self._owners and self._owners[session_id] != caller:
            log.warning("MCP session %s used with another API key: refused", session_id[:64])
            await JSONResponse({"jsonrpc": "2.0", "id": None,
                                "error": {"code": -32600, "message": "Session not found"}},
                               status_code=404)(scope, receive, send)
            return

        async def send_and_bind(message: Message) -> None:
            if message["type"] == "http.response.start" and message.get("status", 500) < 400:
                for key, value in message.get("headers", []):
                    if key.lower() == _SESSION_HEADER:
                        self._owners.setdefault(value.decode("latin-1"), caller)
            await send(message)

        await manager.handle_request(scope, receive, send_and_bind)
        if scope.get("method") == "DELETE" and session_id is not None:
            self._owners.pop(session_id, None)
        self._prune(manager)

    def _prune(self, manager: StreamableHTTPSessionManager) -> None:
        if len(self._owners) < 1000:
            return
        alive: set[str] = set()
        for m in self.managers.values():
            alive.update(getattr(m, "_server_instances", {}).keys())
        for sid in [s for s in self._owners if s not in alive]:
            self._owners.pop(sid, None)
