"""The agent: sessions, the tool loop, and the typed events it emits. No HTTP here.

`Agent.run(session_id, content)` starts a turn in a background task and yields its events:
llm:thinking, llm:chunk, llm:tool-call, tool:running, llm:tool-result, llm:response,
llm:error and finally run:complete. The calls of one step run concurrently; the loop stops at
a final answer or at `llm.maxIterations` steps. A failing tool or bad arguments go back to
the model as a tool error. Cancelling a turn records what was said so far.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import time
import uuid
from collections import OrderedDict
from typing import Any, AsyncIterator

from pydantic import ValidationError

from switchyard.bus import Bus, create_bus
from switchyard.config.loader import LoadedAgent
from switchyard.config.schema import LLMConfig
from switchyard.errors import ConflictError, LLMError, NotFoundError, RequestError, SwitchyardError
from switchyard.llm.base import (Finish, LLMClient, ReasoningDelta, StepResult, TextDelta,
                                 ToolCall, ToolCallAccumulator, ToolCallDelta, Usage,
                                 content_to_text)
from switchyard.runtime import events as ev
from switchyard.runtime.events import Event
from switchyard.runtime.prompt import build_system_prompt
from switchyard.runtime.run import Run
from switchyard.runtime.sessions import LiveSession, LiveSessions
from switchyard.store import Store, database_url
from switchyard.store.sessions import now_ms
from switchyard.tools.base import Tool, ToolResult, ToolSet

log = logging.getLogger("switchyard.agent")

# The run whose task is executing: lets the LLM client's retry callback emit llm:retrying
# into the right stream without threading the run through every provider.
_current_run: contextvars.ContextVar[Run | None] = contextvars.ContextVar("switchyard_run", default=None)

MAX_CACHED_CLIENTS = 32
TITLE_LENGTH = 60


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
        self._sweeper: asyncio.Task[None] | None = None
        self.mcp: Any = None          # tools.mcp_client.MCPManager when servers are configured
        self.approvals: Any = None    # tools.approval.ApprovalCoordinator
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
        self._sweeper = asyncio.create_task(self._sweep_forever(), name=f"sweeper:{self.id}")
        self.started = True
        return self

    async def _start_tools(self) -> None:
        from switchyard.runtime.toolwiring import start_tools
        await start_tools(self)

    async def stop(self, grace: float = 10.0) -> None:
        """Let running turns finish within `grace` seconds, cancel the rest, release all."""
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
        if self._sweeper:
            self._sweeper.cancel()
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

    async def _sweep_forever(self) -> None:
        interval = max(1.0, min(self.live.ttl / 4, 900))
        while True:
            await asyncio.sleep(interval)
            evicted = self.live.sweep()
            if evicted:
                log.debug("evicted %d idle sessions from memory", evicted)

    # --- LLM ---------------------------------------------------------------------------

    def _create_client(self, cfg: LLMConfig) -> LLMClient:
        from switchyard.llm.factory import create_llm_client
        return create_llm_client(cfg, env=os.environ if self.env is None else self.env,
                                 on_retry=self._on_retry)

    def _on_retry(self, attempt: int, delay: float, error: Exception) -> None:
        run = _current_run.get()
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
            session = await self.get_session(session_id)
            override = session.get("llmOverride")
            if override:
                live = self.live.peek(session_id)
                merged = {**self.config.llm.model_dump(exclude_none=True), **override}
                if live and live.llm_api_key:
                    merged["apiKey"] = live.llm_api_key
                return LLMConfig.model_validate(merged)
        return self.config.llm

    def _client_for(self, cfg: LLMConfig) -> LLMClient:
        if cfg is self.config.llm:
            return self.llm
        key = cfg.model_dump_json()
        client = self._session_clients.get(key)
        if client is None:
            client = self._create_client(cfg)
            self._session_clients[key] = client
            while len(self._session_clients) > MAX_CACHED_CLIENTS:
                self._session_clients.popitem(last=False)
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
        client = self._create_client(cfg)  # raises ConfigError for an unusable provider
        if session_id:
            live = self.live.get(session_id)
            if live.busy:
                raise ConflictError(f"session {session_id} is busy", code="session_busy")
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
        await self._emit_out_of_run(session_id, ev.SESSION_TITLE_UPDATED, {"title": title})
        return await self.get_session(session_id)

    def is_busy(self, session_id: str) -> bool:
        live = self.live.peek(session_id)
        return bool(live and live.busy)

    async def _emit_out_of_run(self, session_id: str, name: str, data: dict[str, Any]) -> None:
        await self.bus.publish(Event(name, session_id, data))

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
            session, created = await self.store.sessions.begin_turn(
                self.id, session_id, user_msg, owner=owner, title=_title_from(content))
        except BaseException:
            live.lock.release()
            raise
        run = Run(session_id)
        live.run = run
        run.task = asyncio.create_task(self._execute(run, live, session, user_msg, new=created),
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

    # --- the loop ----------------------------------------------------------------------

    async def _execute(self, run: Run, live: LiveSession, session: dict[str, Any],
                       user_msg: dict[str, Any], *, new: bool = False) -> None:
        _current_run.set(run)
        started = time.monotonic()
        sid = run.session_id
        state = _TurnState(sid)

        def emit(name: str, data: dict[str, Any]) -> None:
            event = Event(name, sid, data)
            run.publish(event)
            if self._bus_has_listeners(sid):
                asyncio.ensure_future(self.bus.publish(event))

        finish_reason, error = "stop", None
        try:
            cfg = await self.llm_config(sid) if session.get("llmOverride") else self.config.llm
            client = self._client_for(cfg)
            state.provider, state.model = client.provider, client.model
            emit(ev.LLM_THINKING, {})
            # The history already ends with this turn's user message (see start_run).
            messages = [user_msg] if new else await self.store.sessions.history(self.id, sid)
            finish_reason = await self._loop(client, cfg, messages, state, emit)
        except asyncio.CancelledError:
            finish_reason = "cancelled"
            await self._record_partial(sid, state)
        except Exception as exc:  # noqa: BLE001 - any failure ends the run with an event
            finish_reason = "error"
            error = exc
            if not isinstance(exc, SwitchyardError):
                log.exception("run of session %s failed", sid)
            await self._record_partial(sid, state)
            emit(ev.LLM_ERROR, {"error": {"message": str(exc), "name": type(exc).__name__},
                                "recoverable": False,
                                **({"context": {"provider": exc.provider, "status": exc.upstream_status}}
                                   if isinstance(exc, LLMError) else {})})
        finally:
            if self.approvals is not None:
                self.approvals.cancel_session(sid)
            done: dict[str, Any] = {"finishReason": finish_reason, "stepCount": state.steps,
                                    "durationMs": int((time.monotonic() - started) * 1000)}
            if error is not None:
                done["error"] = {"message": str(error)}
            emit(ev.RUN_COMPLETE, done)
            run.finish()
            live.lock.release()

    def _bus_has_listeners(self, session_id: str) -> bool:
        count = getattr(self.bus, "subscriber_count", None)
        return True if count is None else count(session_id) > 0

    async def _loop(self, client: LLMClient, cfg: LLMConfig, messages: list[dict[str, Any]],
                    state: "_TurnState", emit: Any) -> str:
        for _ in range(cfg.maxIterations):
            state.steps += 1
            # Read the tools at every step: an MCP server may (re)connect during a turn.
            step = await self._step(client, messages, self.tools.specs(), state, emit)
            if not step.tool_calls:
                message = {"id": _new_id(), "role": "assistant", "content": step.text,
                           "timestamp": now_ms(), "tokenUsage": state.usage.to_dict(),
                           "model": state.model, "provider": state.provider}
                if step.reasoning:
                    message["reasoning"] = step.reasoning
                await self.store.sessions.append(self.id, state.session_id, [message], usage=state.usage.to_dict())
                state.text = ""
                state.final_message_id = message["id"]
                response = {"content": step.text, "provider": state.provider, "model": state.model,
                            "tokenUsage": state.usage.to_dict(), "messageId": message["id"],
                            "finishReason": step.finish_reason}
                if step.reasoning:
                    response["reasoning"] = step.reasoning
                emit(ev.LLM_RESPONSE, response)
                return step.finish_reason
            await self._run_tools(step, messages, state, emit)
        # The model still wanted tools after maxIterations steps: stop, and say so.
        message = {"id": _new_id(), "role": "assistant", "content": "", "timestamp": now_ms(),
                   "tokenUsage": state.usage.to_dict(), "model": state.model, "provider": state.provider}
        await self.store.sessions.append(self.id, state.session_id, [message], usage=state.usage.to_dict())
        emit(ev.LLM_RESPONSE, {"content": "", "provider": state.provider, "model": state.model,
                               "tokenUsage": state.usage.to_dict(), "messageId": message["id"],
                               "finishReason": "max-steps"})
        return "max-steps"

    async def _step(self, client: LLMClient, messages: list[dict[str, Any]], tools: list[Any],
                    state: "_TurnState", emit: Any) -> StepResult:
        result = StepResult()
        calls = ToolCallAccumulator()
        state.text = ""
        async for delta in client.stream(messages, tools, system=self._system_prompt or None):
            if isinstance(delta, TextDelta):
                if delta.text:
                    result.text += delta.text
                    state.text = result.text
                    emit(ev.LLM_CHUNK, {"chunkType": "text", "content": delta.text})
            elif isinstance(delta, ReasoningDelta):
                result.reasoning += delta.text
                emit(ev.LLM_CHUNK, {"chunkType": "reasoning", "content": delta.text})
            elif isinstance(delta, ToolCallDelta):
                calls.add(delta)
            elif isinstance(delta, Usage):
                result.usage = result.usage + delta
            elif isinstance(delta, Finish):
                result.finish_reason = delta.reason
        state.usage = state.usage + result.usage
        result.tool_calls = calls.calls()
        for i, call in enumerate(result.tool_calls):
            if not call.id:
                call.id = f"call_{uuid.uuid4().hex[:12]}_{i}"
        return result

    async def _run_tools(self, step: StepResult, messages: list[dict[str, Any]],
                         state: "_TurnState", emit: Any) -> None:
        assistant = {"id": _new_id(), "role": "assistant", "content": step.text or None,
                     "toolCalls": [c.to_message_dict() for c in step.tool_calls],
                     "timestamp": now_ms(), "model": state.model, "provider": state.provider}
        if step.reasoning:
            assistant["reasoning"] = step.reasoning
        for call in step.tool_calls:
            try:
                args: Any = call.parsed_arguments()
            except ValueError:
                args = call.arguments
            emit(ev.LLM_TOOL_CALL, {"toolName": call.name, "args": args, "callId": call.id})
        state.text = ""
        results = await asyncio.gather(*(self._call_tool(call, state, emit) for call in step.tool_calls))
        tool_messages = [
            {"id": _new_id(), "role": "tool", "content": result.content, "toolCallId": call.id,
             "name": call.name, "success": not result.is_error, "timestamp": now_ms()}
            for call, result in zip(step.tool_calls, results)]
        await self.store.sessions.append(self.id, state.session_id, [assistant, *tool_messages])
        messages.append(assistant)
        messages.extend(tool_messages)

    async def _call_tool(self, call: ToolCall, state: "_TurnState", emit: Any) -> ToolResult:
        result = await self._call_tool_checked(call, state, emit)
        payload: dict[str, Any] = {"toolName": call.name, "callId": call.id, "success": not result.is_error,
                                   "sanitized": {"content": result.content, "meta": {}}}
        if result.is_error:
            payload["error"] = result.as_text()
        emit(ev.LLM_TOOL_RESULT, payload)
        return result

    async def _call_tool_checked(self, call: ToolCall, state: "_TurnState", emit: Any) -> ToolResult:
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self.tools.names())) or "none"
            return ToolResult.text(f"Unknown tool {call.name!r}. Available tools: {known}", is_error=True)
        try:
            arguments = call.parsed_arguments()
        except ValueError as exc:
            return ToolResult.text(f"Invalid arguments for {call.name}: {exc}", is_error=True)
        if self.approvals is not None:
            outcome = await self.approvals.authorize(state.session_id, call.name, call.id, arguments)
            if outcome.status != "approved":
                why = outcome.message or outcome.reason or outcome.status
                return ToolResult.text(f"Tool call {call.name} was {outcome.status}: {why}", is_error=True)
        emit(ev.TOOL_RUNNING, {"toolName": call.name, "toolCallId": call.id})
        try:
            return await tool.call(arguments)
        except asyncio.CancelledError:
            raise
        except asyncio.TimeoutError:
            return ToolResult.text(f"Tool {call.name} timed out", is_error=True)
        except Exception as exc:  # noqa: BLE001 - a tool failure goes back to the model
            log.warning("tool %s failed: %s", call.name, exc)
            return ToolResult.text(f"Tool {call.name} failed: {type(exc).__name__}: {exc}", is_error=True)

    async def _record_partial(self, session_id: str, state: "_TurnState") -> None:
        """Keep what the model had said when a turn stops early (cancel or failure)."""
        if not state.text:
            return
        message = {"id": _new_id(), "role": "assistant", "content": state.text, "timestamp": now_ms(),
                   "model": state.model, "provider": state.provider, "finishReason": "cancelled",
                   "tokenUsage": state.usage.to_dict()}
        try:
            await asyncio.shield(self.store.sessions.append(self.id, session_id, [message],
                                                            usage=state.usage.to_dict()))
            state.text = ""
        except Exception:  # noqa: BLE001
            log.exception("could not record the partial answer of session %s", session_id)


class _TurnState:
    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.steps = 0
        self.text = ""  # text of the current step not yet persisted
        self.usage = Usage()
        self.provider = ""
        self.model = ""
        self.final_message_id: str | None = None


def result_of(run: Run) -> dict[str, Any]:
    """The message-sync body of a finished run; raises the run's error, if it failed."""
    response = next((e for e in reversed(run.events) if e.name == ev.LLM_RESPONSE), None)
    error = next((e for e in reversed(run.events) if e.name == ev.LLM_ERROR), None)
    complete = run.events[-1] if run.events and run.events[-1].name == ev.RUN_COMPLETE else None
    if response is None:
        if error is not None:
            raise _RunFailed(error.data["error"]["message"], error.data.get("context"))
        reason = complete.data.get("finishReason") if complete else "unknown"
        raise _RunFailed(f"the run ended without an answer ({reason})", None)
    data = response.data
    return {"response": data["content"], "sessionId": run.session_id, "tokenUsage": data["tokenUsage"],
            "messageId": data.get("messageId"), "model": data.get("model"), "provider": data.get("provider"),
            **({"reasoning": data["reasoning"]} if data.get("reasoning") else {}),
            "finishReason": data.get("finishReason")}


class _RunFailed(SwitchyardError):
    status = 502
    code = "run_failed"

    def __init__(self, message: str, context: dict[str, Any] | None) -> None:
        super().__init__(message, details=context)
