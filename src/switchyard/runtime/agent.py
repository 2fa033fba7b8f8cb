"""The agent: sessions, the tool loop, and the typed events it emits. No HTTP here.

`Agent.run(session_id, content)` starts a turn in a background task and yields its events:
llm:thinking, llm:chunk, llm:tool-call, tool:running, llm:tool-result, llm:response,
llm:error and finally run:complete. The calls of one step run concurrently; the loop stops at
a final answer or at `llm.maxIterations` steps. A failing tool or bad arguments go back to
the model as a tool error. Cancelling a turn records what was said so far.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections import OrderedDict
from typing import Any, AsyncIterator

from pydantic import ValidationError

from switchyard.bus import Bus, create_bus
from switchyard.config.loader import LoadedAgent
from switchyard.config.schema import LLMConfig
from switchyard.errors import ConflictError, NotFoundError, RequestError
from switchyard.llm.base import (LLMClient, content_to_text)
from switchyard.runtime import events as ev
from switchyard.runtime.events import Event
from switchyard.runtime.prompt import build_system_prompt
from switchyard.runtime.run import Run, current_run
from switchyard.runtime.turn import TurnRunner, result_of
from switchyard.runtime.sessions import LiveSessions
from switchyard.runtime.supervisor import Supervisor
from switchyard.store import Store, database_url
from switchyard.store.sessions import now_ms
from switchyard.tools.base import Tool, ToolSet

log = logging.getLogger("switchyard.agent")

MAX_CACHED_CLIENTS = 32
TITLE_LENGTH = 60
# The supervisor group of turns waiting for a busy session (POST /api/message): at shutdown
# they are dropped before they start, not started while the agent stops.
QUEUED_TURNS = "queued-turns"


def _new_id() -> str:
    return str(uuid.uuid4())


def _title_from(content: Any) -> str | None:
    text = content_to_text(content).strip().splitlines()
    if not text:
        return None
    first = text[0].strip()
    return first if len(first) <= TITLE_LENGTH else first[: TITLE_LENGTH - 1].rstrip() + "…"


class Agent:
    def __init__(self, loaded: LoadedAgent, *, store: Store | None = None, bus: Bus | None = None,
                 tools: list[Tool] | None = None, llm_client: LLMClient | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.loaded = loaded
        self.config = loaded.config
        self.id = self.config.agentId
        self.env = env
        self._owns_store = store is None
        self.store = store or Store(database_url(self.config.storage.database, self.id))
        cache = self.config.storage.cache
        self.bus = bus or create_bus(cache.redis_url() if getattr(cache, "type", None) == "redis" else None)
        self.tools = ToolSet(tools or [])
        self.live = LiveSessions(self.config.sessions.maxSessions, self.config.sessions.sessionTTL)
        self._llm_client = llm_client
        self._session_clients: OrderedDict[str, LLMClient] = OrderedDict()
        self._system_prompt: str | None = None
        self.supervisor = Supervisor(f"agent:{self.id}")   # the agent's background work
        self.mcp: Any = None          # tools.mcp_client.MCPManager when servers are configured
        self.approvals: Any = None    # tools.approval.ApprovalCoordinator
        self.turns = TurnRunner(self)
        self.started = False

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> "Agent":
        if self.started:
            return self
        if self._owns_store:
            await self.store.open()
        if self._llm_client is None:
            # Fail fast on an unusable model config, but import the provider SDK on first use:
            # the SDK import is the largest part of a cold start.
            from switchyard.llm.factory import resolve_llm
            resolve_llm(self.config.llm, os.environ if self.env is None else self.env)
        self._system_prompt = build_system_prompt(self.config, self.loaded.agent_dir)
        await self._start_tools()
        if self.supervisor.stopping:   # started again after a stop
            self.supervisor = Supervisor(f"agent:{self.id}")
        self.supervisor.every(max(1.0, min(self.live.ttl / 4, 900)), self._sweep, name=f"sweeper:{self.id}")
        self.started = True
        return self

    async def _start_tools(self) -> None:
        from switchyard.runtime.toolwiring import start_tools
        await start_tools(self)

    async def stop(self, grace: float = 10.0) -> None:
        """Let running turns finish within `grace` seconds, cancel the rest, release all."""
        await self.supervisor.cancel_group(QUEUED_TURNS)
        runs = self.live.runs()
        if runs:
            done, pending = await asyncio.wait([asyncio.ensure_future(r.wait()) for r in runs], timeout=grace)
            for pending_wait in pending:
                pending_wait.cancel()
            for run in runs:
                if not run.done and run.task:
                    run.task.cancel()
            for run in runs:
                if run.task:
                    try:
                        await asyncio.wait_for(asyncio.shield(run.task), timeout=5)
                    except (asyncio.CancelledError, asyncio.TimeoutError, Exception):  # noqa: BLE001
                        pass
        # What is left are the turns' last bus publishes (and the sweeper): before the bus closes.
        await self.supervisor.stop(grace=min(grace, 2.0))
        if self.mcp is not None:
            await self.mcp.stop()
        for client in [self._llm_client, *self._session_clients.values()]:
            if client is not None:
                try:
                    await client.aclose()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass
        await self.bus.close()
        if self._owns_store:
            await self.store.close()
        self.started = False

    async def _sweep(self) -> None:
        evicted = self.live.sweep()
        if evicted:
            log.debug("evicted %d idle sessions from memory", evicted)

    # --- LLM ---------------------------------------------------------------------------

    def _create_client(self, cfg: LLMConfig) -> LLMClient:
        from switchyard.llm.factory import create_llm_client
        return create_llm_client(cfg, env=os.environ if self.env is None else self.env,
                                 on_retry=self._on_retry)

    def _on_retry(self, attempt: int, delay: float, error: Exception) -> None:
        run = current_run.get()
        if run is not None:
            run.publish(Event(ev.LLM_RETRYING, run.session_id,
                              {"attempt": attempt, "delayMs": int(delay * 1000), "error": {"message": str(error)}}))

    @property
    def llm(self) -> LLMClient:
        if self._llm_client is None:
            self._llm_client = self._create_client(self.config.llm)
        return self._llm_client

    async def llm_config(self, session_id: str | None = None) -> LLMConfig:
        if session_id:
            return self.session_llm_config(await self.get_session(session_id))
        return self.config.llm

    def session_llm_config(self, session: dict[str, Any]) -> LLMConfig:
        """The model a session uses: the agent's, or its own override (whose key, if any,
        is held in memory only)."""
        override = session.get("llmOverride")
        if not override:
            return self.config.llm
        merged = {**self.config.llm.model_dump(exclude_none=True), **override}
        live = self.live.peek(session["id"])
        if live and live.llm_api_key:
            merged["apiKey"] = live.llm_api_key
        return LLMConfig.model_validate(merged)

    def _client_for(self, cfg: LLMConfig) -> LLMClient:
        if cfg is self.config.llm:
            return self.llm
        key = cfg.model_dump_json()
        client = self._session_clients.get(key)
        if client is None:
            client = self._create_client(cfg)
            self._session_clients[key] = client
            while len(self._session_clients) > MAX_CACHED_CLIENTS:
                _, evicted = self._session_clients.popitem(last=False)
                # Its HTTP session holds sockets: close it (a turn still using it has finished
                # its request by the time the close runs, or fails cleanly as a provider error).
                task = asyncio.ensure_future(evicted.aclose())
                task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._session_clients.move_to_end(key)
        return client

    async def switch_llm(self, updates: dict[str, Any], session_id: str | None = None) -> LLMConfig:
        """Change the model globally or for one session. Validates before anything changes."""
        if not updates.get("model") and not updates.get("provider"):
            raise RequestError("at least one of `model` or `provider` is required", details={"fields": ["model", "provider"]})
        base = await self.llm_config(session_id) if session_id else self.config.llm
        merged = {**base.model_dump(exclude_none=True), **{k: v for k, v in updates.items() if v is not None}}
        if updates.get("provider") and updates.get("provider") != base.provider and "model" not in updates:
            merged.pop("model", None)  # the old model belongs to the old provider
        try:
            cfg = LLMConfig.model_validate(merged)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise RequestError(f"{field}: {first['msg']}", details={"field": field}) from None
        if session_id and self.is_busy(session_id):
            raise ConflictError(f"session {session_id} is busy", code="session_busy")
        client = self._create_client(cfg)  # raises ConfigError for an unusable provider
        if session_id:
            live = self.live.get(session_id)
            live.llm_api_key = cfg.apiKey
            await self.store.sessions.update(self.id, session_id, llmOverride=cfg.model_dump(exclude_none=True, exclude={"apiKey"}))
            await client.aclose()
        else:
            old = self._llm_client
            self.config.llm = cfg
            self._llm_client = client
            if old is not None:
                await old.aclose()
        return cfg

    # --- sessions ----------------------------------------------------------------------

    async def create_session(self, session_id: str | None = None, *, owner: str | None = None) -> tuple[dict[str, Any], bool]:
        session_id = session_id or _new_id()
        return await self.store.sessions.create(self.id, session_id, owner=owner)

    async def get_session(self, session_id: str) -> dict[str, Any]:
        session = await self.store.sessions.get(self.id, session_id)
        if session is None:
            raise NotFoundError(f"session {session_id!r} not found", code="session_not_found")
        return session

    async def list_sessions(self, *, owner: str | None = None) -> list[dict[str, Any]]:
        return await self.store.sessions.list(self.id, owner=owner)

    async def delete_session(self, session_id: str) -> bool:
        live = self.live.peek(session_id)
        if live and live.busy:
            await self.cancel(session_id)
        self.live.drop(session_id)
        return await self.store.sessions.delete(self.id, session_id)

    async def fork_session(self, session_id: str, *, owner: str | None = None) -> dict[str, Any]:
        parent = await self.get_session(session_id)
        title = f"Fork: {parent['title']}" if parent.get("title") else session_id[:8]
        return await self.store.sessions.fork(self.id, session_id, _new_id(), title=title[:200], owner=owner)

    async def history(self, session_id: str) -> list[dict[str, Any]]:
        await self.get_session(session_id)
        return await self.store.sessions.history(self.id, session_id)

    async def reset(self, session_id: str) -> None:
        await self.get_session(session_id)
        live = self.live.peek(session_id)
        if live and live.busy:
            await self.cancel(session_id)
        await self.store.sessions.clear_history(self.id, session_id)

    async def set_title(self, session_id: str, title: str) -> dict[str, Any]:
        await self.get_session(session_id)
        await self.store.sessions.update(self.id, session_id, title=title)
        await self.publish_event(session_id, ev.SESSION_TITLE_UPDATED, {"title": title})
        return await self.get_session(session_id)

    def is_busy(self, session_id: str) -> bool:
        live = self.live.peek(session_id)
        return bool(live and live.busy)

    async def publish_event(self, session_id: str, name: str, data: dict[str, Any]) -> None:
        """An event from outside the loop (e.g. an approval request) into the session's
        running turn, so its streams see it, and onto the bus."""
        event = Event(name, session_id, data)
        live = self.live.peek(session_id)
        if live is not None and live.run is not None and not live.run.done:
            live.run.publish(event)
        await self.bus.publish(event)

    # --- runs --------------------------------------------------------------------------

    async def start_run(self, session_id: str | None, content: Any, *, wait: bool = True,
                        owner: str | None = None) -> Run:
        """Start a turn in the background. With wait=False a busy session raises
        ConflictError; with wait=True the turn queues behind the running one."""
        if not self.started:
            await self.start()
        session_id = session_id or _new_id()
        if not content_to_text(content).strip() and not (isinstance(content, list) and content):
            raise RequestError("`content` must not be empty", details={"field": "content"})
        live = self.live.get(session_id)
        if not wait and (live.busy or live.lock.locked()):
            raise ConflictError(f"session {session_id} is busy with another run", code="session_busy")
        live.waiters += 1
        try:
            await live.lock.acquire()
        finally:
            live.waiters -= 1
        user_msg = {"id": _new_id(), "role": "user", "content": content, "timestamp": now_ms()}
        try:
            # The session (if new) and the user's message, in one transaction, before the run.
            session, created, next_seq = await self.store.sessions.begin_turn(
                self.id, session_id, user_msg, owner=owner, title=_title_from(content))
        except BaseException:
            live.lock.release()
            raise
        run = Run(session_id)
        live.run = run
        run.task = asyncio.create_task(self.turns.execute(run, live, session, user_msg, new=created,
                                                          next_seq=next_seq),
                                       name=f"run:{session_id}")
        return run

    async def run(self, session_id: str | None, content: Any, *, wait: bool = True,
                  owner: str | None = None) -> AsyncIterator[Event]:
        run = await self.start_run(session_id, content, wait=wait, owner=owner)
        async for event in run.follow():
            yield event

    async def generate(self, session_id: str | None, content: Any, *, wait: bool = True,
                       owner: str | None = None) -> dict[str, Any]:
        """Run a turn to the end and return the reference's message-sync body."""
        run = await self.start_run(session_id, content, wait=wait, owner=owner)
        await run.wait()
        return result_of(run)

    def attach(self, session_id: str) -> AsyncIterator[Event]:
        """The running turn's events, from its start. ConflictError when nothing runs."""
        live = self.live.peek(session_id)
        if live is None or not live.busy or live.run is None:
            raise ConflictError(f"session {session_id} has no running turn", code="session_not_busy")
        return live.run.follow()

    def current_run(self, session_id: str) -> Run | None:
        live = self.live.peek(session_id)
        return live.run if live and live.busy else None

    async def cancel(self, session_id: str) -> bool:
        live = self.live.peek(session_id)
        if live is None or not live.busy or live.run is None or live.run.task is None:
            return False
        live.run.task.cancel()
        try:
            await asyncio.wait_for(live.run.wait(), timeout=10)
        except asyncio.TimeoutError:
            log.error("run of session %s did not stop within 10 s of cancel", session_id)
        return True
