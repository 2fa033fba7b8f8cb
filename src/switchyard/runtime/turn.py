"""One turn of an agent: the tool loop and the typed events it emits.

The model streams a step; the calls it asks for run concurrently (each through the approval
policy), their results go back, until a final answer or `llm.maxIterations` steps. A failing
tool or bad arguments go back to the model as a tool error. A cancelled or failed turn keeps
what the model had said. Every message is stored complete, in one transaction per step.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from switchyard.config.schema import LLMConfig
from switchyard.errors import LLMError, SwitchyardError, ToolError
from switchyard.llm.base import (Finish, LLMClient, ReasoningDelta, StepResult, TextDelta,
                                 ToolCall, ToolCallAccumulator, ToolCallDelta, Usage)
from switchyard.runtime import events as ev
from switchyard.runtime.events import Event
from switchyard.runtime.run import Run, current_run
from switchyard.runtime.sessions import LiveSession
from switchyard.store.sessions import now_ms
from switchyard.tools.base import ToolResult
from switchyard.tools.context import ToolCallContext

if TYPE_CHECKING:
    from switchyard.runtime.agent import Agent

log = logging.getLogger("switchyard.agent")


def _new_id() -> str:
    return str(uuid.uuid4())


class TurnRunner:
    """Runs the turns of one agent (it holds no per-turn state: that is in _TurnState)."""

    def __init__(self, agent: "Agent") -> None:
        self.agent = agent

    async def execute(self, run: Run, live: LiveSession, session: dict[str, Any],
                       user_msg: dict[str, Any], *, new: bool = False, next_seq: int | None = None) -> None:
        current_run.set(run)
        started = time.monotonic()
        sid = run.session_id
        state = _TurnState(sid, owner=session.get("owner"))

        def emit(name: str, data: dict[str, Any]) -> None:
            event = Event(name, sid, data)
            run.publish(event)
            if self._bus_has_listeners(sid) and not self.agent.supervisor.stopping:
                self.agent.supervisor.spawn(self.agent.bus.publish(event), name=f"publish:{sid}")

        finish_reason, error = "stop", None
        try:
            cfg = self.agent.session_llm_config(session)
            client = self.agent._client_for(cfg)
            state.provider, state.model = client.provider, client.model
            emit(ev.LLM_THINKING, {})
            messages = await self._history(live, session, user_msg, new, next_seq)
            finish_reason = await self._loop(client, cfg, messages, state, emit)
            if state.stored_seq is not None:
                live.keep_history(messages, (session["createdAt"], state.stored_seq,
                                             session["messageCount"] + state.appended))
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
            if self.agent.approvals is not None:
                self.agent.approvals.cancel_session(sid)
            done: dict[str, Any] = {"finishReason": finish_reason, "stepCount": state.steps,
                                    "durationMs": int((time.monotonic() - started) * 1000)}
            if error is not None:
                done["error"] = {"message": str(error)}
            emit(ev.RUN_COMPLETE, done)
            run.finish()
            live.lock.release()

    async def _history(self, live: LiveSession, session: dict[str, Any], user_msg: dict[str, Any],
                       new: bool, next_seq: int | None) -> list[dict[str, Any]]:
        """The conversation so far, ending with this turn's user message (stored by start_run)."""
        kept = None
        if next_seq is not None:
            # The mark the history had just before this turn's user message was appended.
            kept = live.take_history((session["createdAt"], next_seq - 1, session["messageCount"] - 1))
        if new:
            return [user_msg]
        if kept is not None:
            kept.append(user_msg)
            return kept
        return await self.agent.store.sessions.history(self.agent.id, session["id"])

    def _bus_has_listeners(self, session_id: str) -> bool:
        count = getattr(self.agent.bus, "subscriber_count", None)
        return True if count is None else count(session_id) > 0

    async def _loop(self, client: LLMClient, cfg: LLMConfig, messages: list[dict[str, Any]],
                    state: "_TurnState", emit: Any) -> str:
        for _ in range(cfg.maxIterations):
            state.steps += 1
            # Read the tools at every step: an MCP server may (re)connect during a turn.
            step = await self._step(client, messages, self.agent.tools.specs(), state, emit)
            if not step.tool_calls:
                await self._answer(step.text, step.reasoning, step.finish_reason, messages, state, emit)
                return step.finish_reason
            await self._run_tools(step, messages, state, emit)
        # The model still wanted tools after maxIterations steps: stop, and say so.
        await self._answer("", "", "max-steps", messages, state, emit)
        return "max-steps"

    async def _answer(self, text: str, reasoning: str, finish_reason: str, messages: list[dict[str, Any]],
                      state: "_TurnState", emit: Any) -> None:
        """Store the turn's final assistant message (with the turn's usage) and announce it."""
        usage = state.usage.to_dict()
        message = {"id": _new_id(), "role": "assistant", "content": text, "timestamp": now_ms(),
                   "tokenUsage": usage, "model": state.model, "provider": state.provider}
        if reasoning:
            message["reasoning"] = reasoning
        state.stored(await self.agent.store.sessions.append(self.agent.id, state.session_id, [message],
                                                            usage=usage), 1)
        messages.append(message)
        state.text = ""
        response = {"content": text, "provider": state.provider, "model": state.model,
                    "tokenUsage": usage, "messageId": message["id"], "finishReason": finish_reason}
        if reasoning:
            response["reasoning"] = reasoning
        emit(ev.LLM_RESPONSE, response)

    async def _step(self, client: LLMClient, messages: list[dict[str, Any]], tools: list[Any],
                    state: "_TurnState", emit: Any) -> StepResult:
        result = StepResult()
        calls = ToolCallAccumulator()
        state.text = ""
        async for delta in client.stream(messages, tools, system=self.agent._system_prompt or None):
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
        state.stored(await self.agent.store.sessions.append(self.agent.id, state.session_id,
                                                            [assistant, *tool_messages]), 1 + len(tool_messages))
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
        tool = self.agent.tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self.agent.tools.names())) or "none"
            return ToolResult.text(f"Unknown tool {call.name!r}. Available tools: {known}", is_error=True)
        try:
            arguments = call.parsed_arguments()
        except ValueError as exc:
            return ToolResult.text(f"Invalid arguments for {call.name}: {exc}", is_error=True)
        context = ToolCallContext(call_id=call.id, session_id=state.session_id, owner=state.owner,
                                  agent_id=self.agent.id, working_dir=Path(self.agent.loaded.agent_dir))
        if self.agent.approvals is not None:
            outcome = await self.agent.approvals.authorize(state.session_id, call.name, call.id, arguments,
                                                           context=context)
            if outcome.status != "approved":
                why = outcome.message or outcome.reason or outcome.status
                return ToolResult.text(f"Tool call {call.name} was {outcome.status}: {why}", is_error=True)
        emit(ev.TOOL_RUNNING, {"toolName": call.name, "toolCallId": call.id})
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

    async def _record_partial(self, session_id: str, state: "_TurnState") -> None:
        """Keep what the model had said when a turn stops early (cancel or failure)."""
        if not state.text:
            return
        message = {"id": _new_id(), "role": "assistant", "content": state.text, "timestamp": now_ms(),
                   "model": state.model, "provider": state.provider, "finishReason": "cancelled",
                   "tokenUsage": state.usage.to_dict()}
        try:
            await asyncio.shield(self.agent.store.sessions.append(self.agent.id, session_id, [message],
                                                            usage=state.usage.to_dict()))
            state.text = ""
        except Exception:  # noqa: BLE001
            log.exception("could not record the partial answer of session %s", session_id)


class _TurnState:
    def __init__(self, session_id: str, *, owner: str | None = None) -> None:
        self.session_id = session_id
        self.owner = owner  # the session's owner, for the tools' call context
        self.steps = 0
        self.text = ""  # text of the current step not yet persisted
        self.usage = Usage()
        self.provider = ""
        self.model = ""
        # The store's next sequence number after this turn's last append, and how many
        # messages the turn appended after its user message (for the history cache's mark).
        self.stored_seq: int | None = None
        self.appended = 0

    def stored(self, next_seq: int | None, count: int) -> None:
        self.stored_seq = next_seq
        self.appended += count


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
