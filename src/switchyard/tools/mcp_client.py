"""One configured MCP server: its session, its tools, its restarts.

Design
- The SDK's transports and `ClientSession` are anyio context managers whose task groups must be
  entered and exited by the same task. So each `MCPConnection` has ONE long-lived supervisor
  task that opens the transport, runs the session and closes it; every other task talks to it
  through a queue of requests, each answered through an asyncio future.
- A connection that drops (a stdio server that exits, an HTTP server that goes away) is found
  by the failing request itself or by a periodic ping, and reopened with bounded exponential
  backoff (`ConnectionOptions`). After `max_attempts` failures in a row the status stays "error"
  until `restart()`. While down, tools answer with a tool error; nothing raises into the agent.
- Every request has a timeout (the server's `timeout`, in ms); running out is a tool error.
- Stdio servers get a minimal environment (SAFE_ENV_VARS plus the config's `env`), never the
  whole parent environment: Switchyard's own environment holds provider API keys.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import anyio
import mcp_types as mtypes
from mcp import ClientSession
from mcp.shared.exceptions import MCPError

from switchyard.config.schema import HttpServerConfig, StdioServerConfig
from switchyard.tools.base import ToolResult
from switchyard.tools.mcp_support import (  # noqa: F401  (re-exported: the public names live here)
    ConnectionOptions, MCPConnectionError, NotConnected, StderrTail, describe)
from switchyard.tools.mcp_tool import MCPTool, MCPToolSpec
from switchyard.tools.mcp_transport import open_transport

log = logging.getLogger("switchyard.mcp")

@dataclass
class _Request:
    op: Callable[[ClientSession], Awaitable[Any]]
    future: asyncio.Future
    timeout: float


class MCPConnection:
    """One MCP server. `status`: "connected" | "connecting" | "error" | "disabled"
    ("disabled" also means stopped). `on_change(connection)` fires when status or tools change."""

    def __init__(self, name: str, config: StdioServerConfig | HttpServerConfig, *,
                 options: ConnectionOptions | None = None,
                 on_change: Callable[["MCPConnection"], None] | None = None) -> None:
        self.name = name
        self.config = config
        self.options = options or ConnectionOptions()
        self.on_change = on_change
        self.status = "connecting" if config.enabled else "disabled"
        self.last_error: str | None = None
        self._specs: list[MCPToolSpec] = []
        self._session: ClientSession | None = None
        self._queue: asyncio.Queue[_Request] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self._ended: asyncio.Event | None = None   # set while serving: ends the session
        self._end_reason: str | None = None
        self._stop_event = asyncio.Event()
        self._stopping = False
        self._first_attempt: asyncio.Future | None = None
        self._session_reached = False   # the current/last session got to "connected"
        self._stderr = StderrTail(name)

    # --- public API --------------------------------------------------------------------

    @property
    def timeout(self) -> float:
        return self.config.timeout / 1000

    @property
    def tools(self) -> list[MCPTool]:
        """The server's tools under their own names (the last known list while it is down)."""
        return [MCPTool(self, spec) for spec in self._specs]

    @property
    def tool_specs(self) -> list[MCPToolSpec]:
        return list(self._specs)

    async def start(self) -> None:
        """Connect; returns after the first attempt, successful or not (then `status` is
        "error", `last_error` says why, and retries continue in the background)."""
        if not self.config.enabled:
            self._set_status("disabled")
            return
        if self._task is not None and not self._task.done():
            return
        self._stopping = False
        self._stop_event.clear()
        self._first_attempt = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._supervise(), name=f"mcp:{self.name}")
        await asyncio.shield(self._first_attempt)

    async def stop(self) -> None:
        """Close the session (and stop a stdio server); status becomes "disabled"."""
        self._stopping = True
        self._stop_event.set()
        task, self._task = self._task, None
        if task is not None and not task.done():
            if self._ended is not None:
                self._ended.set()      # serving: let the supervisor close things in order
            else:
                task.cancel()          # connecting or waiting to retry: nothing to drain
            done, _ = await asyncio.wait({task}, timeout=self.options.stop_timeout)
            if not done:
                log.warning("MCP server '%s' did not shut down in %.1fs; cancelling",
                            self.name, self.options.stop_timeout)
                task.cancel()
                await asyncio.wait({task}, timeout=self.options.stop_timeout)
        self._specs = []
        self._set_status("disabled")

    async def restart(self) -> None:
        await self.stop()
        self.last_error = None
        await self.start()

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        """Call a tool by its server-side name. Never raises: failures are tool errors."""
        try:
            result = await self._request(lambda s: s.call_tool(name, arguments))
        except NotConnected as exc:
            return ToolResult.text(f"MCP server '{self.name}' is not connected: {exc}", is_error=True)
        except TimeoutError:
            return ToolResult.text(
                f"MCP tool '{name}' on server '{self.name}' timed out after "
                f"{self.config.timeout} ms", is_error=True)
        except Exception as exc:  # an error answer or a broken transport: back to the model
            return ToolResult.text(f"MCP tool '{name}' on server '{self.name}' failed: "
                                   f"{describe(exc)}", is_error=True)
        content = [part.model_dump(mode="json", by_alias=True, exclude_none=True)
                   for part in result.content]
        return ToolResult(content=content, is_error=bool(result.is_error),
                          raw=result.structured_content)

    async def resources(self) -> list[dict[str, Any]]:
        return await self._checked(self._list_all("list_resources", "resources"))

    async def read_resource(self, uri: str) -> list[dict[str, Any]]:
        result = await self._checked(lambda s: s.read_resource(uri))
        return [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in result.contents]

    async def prompts(self) -> list[dict[str, Any]]:
        return await self._checked(self._list_all("list_prompts", "prompts"))

    async def get_prompt(self, name: str, arguments: dict[str, str] | None = None) -> dict[str, Any]:
        result = await self._checked(lambda s: s.get_prompt(name, arguments or {}))
        return result.model_dump(mode="json", by_alias=True, exclude_none=True,
                                 exclude={"meta", "result_type"})

    # --- requests ------------------------------------------------------------------------

    async def _request(self, op: Callable[[ClientSession], Awaitable[Any]]) -> Any:
        if self.status == "disabled":
            raise NotConnected("the server is disabled or stopped")
        if self.status != "connected" or self._session is None:
            raise NotConnected(self.last_error or f"status is {self.status}")
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Request(op, future, self.timeout))
        try:
            # The supervisor enforces the timeout; this is a backstop should it be wedged.
            return await asyncio.wait_for(future, self.timeout + 2.0)
        except asyncio.TimeoutError:
            raise TimeoutError from None

    async def _checked(self, op: Callable[[ClientSession], Awaitable[Any]]) -> Any:
        """For resources and prompts, which the HTTP API shows: failures raise."""
        try:
            return await self._request(op)
        except NotConnected as exc:
            raise MCPConnectionError(f"MCP server '{self.name}' is not connected: {exc}") from None
        except TimeoutError:
            raise MCPConnectionError(f"MCP server '{self.name}' timed out after "
                                     f"{self.config.timeout} ms") from None
        except MCPError as exc:
            raise MCPConnectionError(f"MCP server '{self.name}': {exc.message}") from None

    @staticmethod
    def _list_all(method: str, key: str) -> Callable[[ClientSession], Awaitable[list[dict]]]:
        async def op(session: ClientSession) -> list[dict[str, Any]]:
            items, cursor = [], None
            while True:
                params = mtypes.PaginatedRequestParams(cursor=cursor) if cursor else None
                page = await getattr(session, method)(params=params)
                items += [i.model_dump(mode="json", by_alias=True, exclude_none=True)
                          for i in getattr(page, key)]
                cursor = page.next_cursor
                if not cursor:
                    return items
        return op

    # --- the supervisor task -------------------------------------------------------------

    async def _supervise(self) -> None:
        failures = 0
        try:
            while not self._stopping:
                self._set_status("connecting")
                try:
                    await self._session_lifetime()
                    if self._stopping:
                        break
                    raise NotConnected(self._end_reason or "connection closed")
                except Exception as exc:
                    self.last_error = describe(exc)
                    if self._stderr.lines and isinstance(self.config, StdioServerConfig):
                        self.last_error += f" (stderr: {self._stderr.tail()})"
                finally:
                    self._session = None
                    self._ended = None
                    self._fail_queued()
                if self._stopping:
                    break
                # A session that got as far as "connected" starts a new count of failures.
                failures = 1 if self._session_reached else failures + 1
                self._resolve_first_attempt()
                if failures > self.options.max_attempts:
                    log.error("MCP server '%s' failed %d times in a row, giving up: %s",
                              self.name, failures, self.last_error)
                    self._set_status("error")
                    return
                delay = self.options.delay(failures)
                log.warning("MCP server '%s' is down (%s); retry %d/%d in %.1fs", self.name,
                            self.last_error, failures, self.options.max_attempts, delay)
                self._set_status("error")
                try:
                    await asyncio.wait_for(self._stop_event.wait(), delay)
                except asyncio.TimeoutError:
                    pass
        finally:
            self._resolve_first_attempt()

    async def _session_lifetime(self) -> None:
        """Open, serve until stopped or disconnected, close — all in this one task."""
        self._session_reached = False
        self._end_reason = None
        async with AsyncExitStack() as stack:
            streams = await open_transport(self.config, stack, self._stderr, self.timeout)
            session = await stack.enter_async_context(
                ClientSession(*streams, message_handler=self._on_message))
            limit = max(self.timeout, self.options.connect_timeout)
            try:
                with anyio.fail_after(limit):
                    await session.initialize()
                    specs = await self._list_tools(session)
            except TimeoutError:
                raise NotConnected(f"no answer to initialize within {limit:g} s") from None
            self._specs, self._session, self.last_error = specs, session, None
            self._session_reached = True
            self._ended = asyncio.Event()
            log.info("MCP server '%s' connected (%d tools)", self.name, len(specs))
            self._set_status("connected")
            self._resolve_first_attempt()
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._pump, session, tg)
                tg.start_soon(self._watch, session)
                await self._ended.wait()
                tg.cancel_scope.cancel()

    async def _list_tools(self, session: ClientSession) -> list[MCPToolSpec]:
        specs, cursor = [], None
        while True:
            params = mtypes.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await session.list_tools(params=params)
            specs += [MCPToolSpec(t.name, t.description or "",
                                  t.input_schema or {"type": "object", "properties": {}})
                      for t in page.tools]
            cursor = page.next_cursor
            if not cursor:
                return specs

    async def _pump(self, session: ClientSession, tg: Any) -> None:
        while True:
            request = await self._queue.get()
            tg.start_soon(self._run, session, request)

    async def _run(self, session: ClientSession, request: _Request) -> None:
        future = request.future
        if future.done():   # the caller gave up while it was queued
            return
        try:
            with anyio.CancelScope() as scope:
                # A caller that times out or is cancelled cancels the request here too.
                future.add_done_callback(lambda _f: scope.cancel())
                with anyio.fail_after(request.timeout):
                    result = await request.op(session)
                if not future.done():
                    future.set_result(result)
        except MCPError as exc:
            if exc.code == mtypes.CONNECTION_CLOSED:
                self._lost("connection closed")
                exc = NotConnected("connection closed")
            if not future.done():
                future.set_exception(exc)
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
        finally:
            if not future.done():
                future.set_exception(NotConnected("the connection ended during the call"))

    async def _watch(self, session: ClientSession) -> None:
        """Ping now and then: a stdio server that died between calls is found and restarted."""
        while True:
            await anyio.sleep(self.options.health_interval)
            try:
                with anyio.fail_after(self.timeout):
                    await session.send_ping()
            except TimeoutError:
                # Slow is not dead: a busy server keeps its session; calls still time out.
                log.warning("MCP server '%s' did not answer a ping in %d ms",
                            self.name, self.config.timeout)
            except MCPError as exc:
                if exc.code == mtypes.CONNECTION_CLOSED:
                    self._lost("connection closed")
                    return
                log.debug("MCP server '%s' ping answered with an error: %s", self.name, exc.message)
            except Exception as exc:
                self._lost(describe(exc))
                return

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, Exception):
            log.warning("MCP server '%s' transport error: %s", self.name, describe(message))
        elif isinstance(message, mtypes.ToolListChangedNotification):
            # Re-list through the queue, like any request, so it runs under the same rules.
            future = asyncio.get_running_loop().create_future()
            future.add_done_callback(self._tools_relisted)
            self._queue.put_nowait(_Request(self._list_tools, future, self.timeout))

    def _tools_relisted(self, future: asyncio.Future) -> None:
        if not future.cancelled() and future.exception() is None:
            self._specs = future.result()
            log.info("MCP server '%s' changed its tools (%d now)", self.name, len(self._specs))
            self._notify()
        elif not future.cancelled():
            log.warning("MCP server '%s': re-listing tools failed: %s",
                        self.name, describe(future.exception()))

    def _lost(self, reason: str) -> None:
        if self._ended is not None and not self._ended.is_set():
            self._end_reason = reason
            log.warning("MCP server '%s' connection lost: %s", self.name, reason)
            # Right away, not when the supervisor gets to it: calls from now on fail fast.
            self.last_error = reason
            self._set_status("error")
            self._ended.set()

    def _fail_queued(self) -> None:
        while not self._queue.empty():
            request = self._queue.get_nowait()
            if not request.future.done():
                request.future.set_exception(NotConnected(self.last_error or "connection closed"))

    def _resolve_first_attempt(self) -> None:
        if self._first_attempt is not None and not self._first_attempt.done():
            self._first_attempt.set_result(None)

    def _set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self._notify()

    def _notify(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change(self)
            except Exception:  # a listener's bug must not take the connection down
                log.exception("MCP on_change listener failed for '%s'", self.name)

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.name, "name": self.name, "status": self.status}
        if self.last_error and self.status != "connected":
            out["error"] = self.last_error
        return out
