"""One turn of an agent: the tool loop and the typed events it emits.

The model streams a step; the calls it asks for run concurrently (each through the approval
policy), their results go back, until a final answer or `llm.maxIterations` steps. A failing
tool or bad arguments go back to the model as a tool error. A cancelled or failed turn keeps
what the model had said. Every message is stored complete, in one transaction per step.

A turn gets what it needs in a `TurnContext` (it never sees the Agent), and ends by setting
the run's `RunResult` before its last event, run:complete.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from switchyard.config.schema import LLMConfig
from switchyard.errors import LLMError, SwitchyardError, ToolError
from switchyard.events import (ChunkEvent, ErrorEvent, Event, MessageDequeuedEvent, ResponseEvent,
                               RunCompleteEvent, RunFailure, RunResult, ThinkingEvent, ToolCallEvent,
                               ToolResultEvent, ToolRunningEvent, UpstreamFailure)
from switchyard.ids import new_id, now_ms
from switchyard.llm.base import (Finish, LLMClient, ReasoningDelta, StepResult, TextDelta,
                                 ToolCall, ToolCallAccumulator, ToolCallDelta, Usage)
from switchyard.observability.instruments import TurnTelemetry
from switchyard.runtime import interruptions
from switchyard.runtime.compaction import ContextFitter, RunningTotal, is_context_overflow
from switchyard.runtime.run import Run, current_run
from switchyard.runtime.sessions import LiveSession
from switchyard.store import Store
from switchyard.tools.base import ToolResult, ToolSet
from switchyard.tools.context import ToolCallContext

log = logging.getLogger("switchyard.agent")

Emit = Callable[[Event], None]


@dataclass(frozen=True)
class TurnContext:
    """What one turn needs from its agent, and nothing more."""

    agent_id: str
    store: Store
    tools: ToolSet
    approvals: Any                  # tools.approval.ApprovalCoordinator, or None
    system_prompt: str | None
    # The session's model: its client and config (may raise: the turn reports it as llm:error).
    model_for: Callable[[dict[str, Any]], tuple[LLMClient, LLMConfig]]
    publish: Emit                   # into this turn's run (and onto the bus when someone listens)
    # The folder the agent's tools work in (relative paths resolve against it).
    working_dir: Path = field(default_factory=Path.cwd)
    # Steer messages queued for the session (runtime/queues.py), taken at each step boundary.
    take_steer: Callable[[str], Awaitable[list[Any]]] | None = None
    # The system prompt for a session, built once per turn (runtime contributors, the
    # owner's memories); None: `system_prompt` as it is.
    prompt_for: Callable[[dict[str, Any]], Awaitable[str | None]] | None = None
    # Fits each request into the model's window (runtime/compaction.py); None: sent as it is.
    fitter: ContextFitter | None = None
    # Called with the turn's run:complete before it is published here (replicas: it goes to the
    # shared stream, then the session's lease is released, so a caller that saw the end can
    # start the next turn on any replica at once). Its failure is logged; the turn still ends.
    end_turn: Callable[[Run, Event], Awaitable[None]] | None = None
    # Metrics and spans of the turn, its model calls and tool calls (observability/).
    telemetry: TurnTelemetry | None = None


class TurnRunner:
    """Runs one turn in its context (per-step state is in _TurnState)."""

    def __init__(self, ctx: TurnContext) -> None:
        self.ctx = ctx

    async def execute(self, run: Run, live: LiveSession, session: dict[str, Any],
                       user_msg: dict[str, Any], *, new: bool = False, next_seq: int | None = None) -> None:
        current_run.set(run)
        started = time.monotonic()
        sid = run.session_id
        state = _TurnState(sid, owner=session.get("owner"))
        emit = self.ctx.publish
        observed = self.ctx.telemetry.run(sid) if self.ctx.telemetry is not None else None

        finish_reason, error = "stop", None
        try:
            client, cfg = self.ctx.model_for(session)
            state.provider, state.model = client.provider, client.model
            emit(ThinkingEvent(sid))
            state.system = (await self.ctx.prompt_for(session) if self.ctx.prompt_for is not None
                            else self.ctx.system_prompt)
            messages = await self._history(live, session, user_msg, new, next_seq, state)
            finish_reason = await self._loop(client, cfg, messages, state, emit)
            if state.stored_seq is not None:
                window = self.ctx.fitter.window(client, cfg) if self.ctx.fitter is not None else None
                live.keep_history(messages, (session["createdAt"], state.stored_seq,
                                             session["messageCount"] + state.appended),
                                  rebuilt=state.compacted, total=state.total, window=window)
        except asyncio.CancelledError:
            finish_reason = "cancelled"
            await self._record_partial(sid, state, interruptions.CANCELLED)
        except Exception as exc:  # noqa: BLE001 - any failure ends the run with an event
            finish_reason = "error"
            upstream = UpstreamFailure(exc.provider, exc.upstream_status) if isinstance(exc, LLMError) else None
            error = RunFailure(str(exc), type(exc).__name__, upstream)
            if not isinstance(exc, SwitchyardError):
                log.exception("run of session %s failed", sid)
            await self._record_partial(sid, state, interruptions.UPSTREAM if isinstance(exc, LLMError)
                                       else interruptions.FAILED)
            emit(ErrorEvent(sid, error.message, error.error_type, recoverable=False, upstream=upstream))
        finally:
            if self.ctx.approvals is not None:
                self.ctx.approvals.cancel_session(sid)
            duration_ms = int((time.monotonic() - started) * 1000)
            run.result = state.result(finish_reason, error, duration_ms)
            complete = RunCompleteEvent(sid, finish_reason, state.steps, duration_ms,
                                        error.message if error is not None else None)
            if observed is not None:
                observed.done(run.result)
            if self.ctx.end_turn is not None:
                try:
                    await self.ctx.end_turn(run, complete)
                except (Exception, asyncio.CancelledError):  # noqa: BLE001 - the lease then expires
                    log.warning("session %s: could not release its shared lease (it expires by itself)",
                                sid, exc_info=True)
            emit(complete)
            run.finish()
            live.lock.release()

    async def _history(self, live: LiveSession, session: dict[str, Any], user_msg: dict[str, Any],
                       new: bool, next_seq: int | None, state: "_TurnState") -> list[dict[str, Any]]:
        """The conversation so far, ending with this turn's user message (stored by start_run)."""
        kept = None
        if next_seq is not None:
            # The mark the history had just before this turn's user message was appended.
            kept = live.take_history((session["createdAt"], next_seq - 1, session["messageCount"] - 1))
        if new:
            return [user_msg]
        if kept is not None:
            state.total = live.history_total or state.total   # its running token count
            kept.append(user_msg)
            return kept
        # From the session's context start on (clear-context, compaction): runtime/context.py.
        return await self.ctx.store.sessions.context(self.ctx.agent_id, session["id"])

    async def _loop(self, client: LLMClient, cfg: LLMConfig, messages: list[dict[str, Any]],
                    state: "_TurnState", emit: Emit) -> str:
        for _ in range(cfg.maxIterations):
            await self._inject_steer(messages, state, emit)
            state.steps += 1
            # Read the tools at every step: an MCP server may (re)connect during a turn.
            step = await self._fitted_step(client, cfg, messages, self.ctx.tools.specs(), state, emit)
            if not step.tool_calls:
                await self._answer(step.text, step.reasoning, step.finish_reason, messages, state, emit)
                return step.finish_reason
            await self._run_tools(step, messages, state, emit)
        # The model still wanted tools after maxIterations steps: stop, and say so.
        await self._answer("", "", "max-steps", messages, state, emit)
        return "max-steps"

    async def _fitted_step(self, client: LLMClient, cfg: LLMConfig, messages: list[dict[str, Any]],
                           tools: list[Any], state: "_TurnState", emit: Emit) -> StepResult:
        """One model step on the conversation fitted to the window; when the provider still
        says it is too long, one tighter fit and a retry."""
        if self.ctx.fitter is None:
            return await self._step(client, messages, tools, state, emit)
        request = await self._fit(client, cfg, messages, tools, state, emit, "overflow")
        try:
            return await self._step(client, request, tools, state, emit)
        except LLMError as exc:
            if not is_context_overflow(exc) or state.text:
                raise
            log.info("session %s: the provider found the request too long; compacting", state.session_id)
        request = await self._fit(client, cfg, messages, tools, state, emit, "provider-error")
        return await self._step(client, request, tools, state, emit)

    async def _fit(self, client: LLMClient, cfg: LLMConfig, messages: list[dict[str, Any]], tools: list[Any],
                   state: "_TurnState", emit: Emit, reason: str) -> list[dict[str, Any]]:
        async def store_summary(summary: dict[str, Any], keep_from_id: str | None) -> None:
            state.stored(await self.ctx.store.sessions.compact(self.ctx.agent_id, state.session_id,
                                                               summary, keep_from_id), 1)
            state.compacted = True

        assert self.ctx.fitter is not None
        request, event = await self.ctx.fitter.fit(messages, system=state.system, tools=tools, client=client,
                                                   cfg=cfg, session_id=state.session_id,
                                                   store_summary=store_summary, reason=reason,
                                                   total=state.total)
        if event is not None:
            emit(event)
        return request

    async def _inject_steer(self, messages: list[dict[str, Any]], state: "_TurnState", emit: Emit) -> None:
        """Steer messages queued since the last step join the conversation as user messages
        (stored like any other), before the model's next step."""
        taken = await self.ctx.take_steer(state.session_id) if self.ctx.take_steer is not None else []
        if not taken:
            return
        injected = [{"id": new_id(), "role": "user", "content": m.content, "timestamp": now_ms(),
                     "metadata": {"queue": "steer", "queuedId": m.id}} for m in taken]
        state.stored(await self.ctx.store.sessions.append(self.ctx.agent_id, state.session_id, injected),
                     len(injected))
        messages.extend(injected)
        emit(MessageDequeuedEvent(state.session_id, "steer", tuple(m.id for m in taken)))

    async def _answer(self, text: str, reasoning: str, finish_reason: str, messages: list[dict[str, Any]],
                      state: "_TurnState", emit: Emit) -> None:
        """Store the turn's final assistant message (with the turn's usage) and announce it."""
        usage = state.usage.to_dict()
        message = {"id": new_id(), "role": "assistant", "content": text, "timestamp": now_ms(),
                   "tokenUsage": usage, "model": state.model, "provider": state.provider}
        if reasoning:
            message["reasoning"] = reasoning
        state.stored(await self.ctx.store.sessions.append(self.ctx.agent_id, state.session_id, [message],
                                                          usage=usage), 1)
        messages.append(message)
        state.text = ""
        state.answer = ResponseEvent(state.session_id, text, state.provider, state.model, state.usage,
                                     message["id"], finish_reason, reasoning)
        emit(state.answer)

    async def _step(self, client: LLMClient, messages: list[dict[str, Any]], tools: list[Any],
                    state: "_TurnState", emit: Emit) -> StepResult:
        if self.ctx.telemetry is None:
            return await self._stream_step(client, messages, tools, state, emit)
        with self.ctx.telemetry.llm_call(client.provider, client.model) as call:
            result = await self._stream_step(client, messages, tools, state, emit)
            call.done(result.usage, result.finish_reason, len(result.tool_calls))
            return result

    async def _stream_step(self, client: LLMClient, messages: list[dict[str, Any]], tools: list[Any],
                           state: "_TurnState", emit: Emit) -> StepResult:
        result = StepResult()
        calls = ToolCallAccumulator()
        state.text = ""
        sid = state.session_id
        async for delta in client.stream(messages, tools, system=state.system or None):
            if isinstance(delta, TextDelta):
                if delta.text:
                    result.text += delta.text
                    state.text = result.text
                    emit(ChunkEvent(sid, "text", delta.text))
            elif isinstance(delta, ReasoningDelta):
                result.reasoning += delta.text
                emit(ChunkEvent(sid, "reasoning", delta.text))
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
                         state: "_TurnState", emit: Emit) -> None:
        assistant = {"id": new_id(), "role": "assistant", "content": step.text or None,
                     "toolCalls": [c.to_message_dict() for c in step.tool_calls],
                     "timestamp": now_ms(), "model": state.model, "provider": state.provider}
        if step.reasoning:
            assistant["reasoning"] = step.reasoning
        for call in step.tool_calls:
            try:
                args: Any = call.parsed_arguments()
            except ValueError:
                args = call.arguments
            emit(ToolCallEvent(state.session_id, call.name, call.id, args))
        state.text = ""
        results = await asyncio.gather(*(self._call_tool(call, state, emit) for call in step.tool_calls))
        tool_messages = [
            {"id": new_id(), "role": "tool", "content": result.content, "toolCallId": call.id,
             "name": call.name, "success": not result.is_error, "timestamp": now_ms()}
            for call, result in zip(step.tool_calls, results)]
        state.stored(await self.ctx.store.sessions.append(self.ctx.agent_id, state.session_id,
                                                          [assistant, *tool_messages]), 1 + len(tool_messages))
        messages.append(assistant)
        messages.extend(tool_messages)

    async def _call_tool(self, call: ToolCall, state: "_TurnState", emit: Emit) -> ToolResult:
        if self.ctx.telemetry is None:
            result = await self._call_tool_checked(call, state, emit)
        else:   # a tool name the model made up is counted as `unknown` (bounded labels)
            known = call.name if self.ctx.tools.get(call.name) is not None else "unknown"
            with self.ctx.telemetry.tool_call(known, call.id) as observed:
                result = await self._call_tool_checked(call, state, emit)
                observed.done(result.is_error)
        emit(ToolResultEvent(state.session_id, call.name, call.id, not result.is_error, result.content,
                             result.as_text() if result.is_error else None))
        return result

    async def _call_tool_checked(self, call: ToolCall, state: "_TurnState", emit: Any) -> ToolResult:
        tool = self.ctx.tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self.ctx.tools.names())) or "none"
            return ToolResult.text(f"Unknown tool {call.name!r}. Available tools: {known}", is_error=True)
        try:
            arguments = call.parsed_arguments()
        except ValueError as exc:
            return ToolResult.text(f"Invalid arguments for {call.name}: {exc}", is_error=True)
        context = ToolCallContext(call_id=call.id, session_id=state.session_id, owner=state.owner,
                                  agent_id=self.ctx.agent_id, working_dir=self.ctx.working_dir)
        if self.ctx.approvals is not None:
            outcome = await self.ctx.approvals.authorize(state.session_id, call.name, call.id, arguments,
                                                         context=context)
            if outcome.status != "approved":
                why = outcome.message or outcome.reason or outcome.status
                return ToolResult.text(f"Tool call {call.name} was {outcome.status}: {why}", is_error=True)
        emit(ToolRunningEvent(state.session_id, call.name, call.id))
        try:
            return await tool.call(arguments, context)
        except asyncio.CancelledError:
            # Reaches what asyncio cannot: a sync tool's thread, work the tool handed elsewhere.
            context.cancellation.cancel("the turn was cancelled")
            raise
        except asyncio.TimeoutError:
            context.cancellation.cancel("timed out")
            return ToolResult.text(f"Tool {call.name} timed out", is_error=True)
        except ToolError as exc:
            return ToolResult.text(f"Tool {call.name} failed: {exc.message}", is_error=True)
        except Exception as exc:  # noqa: BLE001 - a tool failure goes back to the model
            log.warning("tool %s failed: %s", call.name, exc)
            return ToolResult.text(f"Tool {call.name} failed: {type(exc).__name__}: {exc}", is_error=True)

    async def _record_partial(self, session_id: str, state: "_TurnState", reason: str) -> None:
        """Keep what the model had said when a turn stops early, marked as an interrupted
        partial: cancelled by the user, or cut off by a failure (runtime/interruptions.py)."""
        if not state.text:
            return
        message = interruptions.partial_answer(state.text, reason=reason, model=state.model,
                                               provider=state.provider, usage=state.usage.to_dict())
        try:
            await asyncio.shield(self.ctx.store.sessions.append(self.ctx.agent_id, session_id, [message],
                                                                usage=state.usage.to_dict()))
            state.text = ""
        except Exception:  # noqa: BLE001
            log.exception("could not record the partial answer of session %s", session_id)


class _TurnState:
    def __init__(self, session_id: str, *, owner: str | None = None) -> None:
        self.session_id = session_id
        self.owner = owner  # the session's owner, for the tools' call context
        self.system: str | None = None  # the turn's system prompt
        self.steps = 0
        self.text = ""  # text of the current step not yet persisted
        self.usage = Usage()
        self.provider = ""
        self.model = ""
        self.answer: ResponseEvent | None = None
        # The store's next sequence number after this turn's last append, and how many
        # messages the turn appended after its user message (for the history cache's mark).
        self.stored_seq: int | None = None
        self.appended = 0
        self.compacted = False  # a summary replaced the oldest messages of the turn's list
        self.total = RunningTotal()  # the tokens of the turn's list counted so far (compaction)

    def stored(self, next_seq: int | None, count: int) -> None:
        self.stored_seq = next_seq
        self.appended += count

    def result(self, finish_reason: str, error: RunFailure | None, duration_ms: int) -> RunResult:
        answer = self.answer
        if answer is None:
            return RunResult(self.session_id, finish_reason, usage=self.usage, model=self.model or None,
                             provider=self.provider or None, error=error, steps=self.steps,
                             duration_ms=duration_ms)
        return RunResult(self.session_id, finish_reason, content=answer.content,
                         reasoning=answer.reasoning, usage=answer.usage, message_id=answer.message_id,
                         model=answer.model, provider=answer.provider, error=error, steps=self.steps,
                         duration_ms=duration_ms)
