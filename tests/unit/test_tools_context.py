"""The call context a tool receives, sync tools off the event loop, cancellation reaching a
tool's thread, ToolError, and argument-aware policies driving a real turn (scripted LLM over HTTP)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from switchyard.events import ToolResultEvent, ToolRunningEvent
from switchyard.config import parse_agent
from switchyard.errors import ToolError
from switchyard.runtime.agent import Agent
from switchyard.tools.base import FunctionTool
from switchyard.tools.context import Cancellation, ToolCallContext
from switchyard.tools.policy import PolicyDecision
from tests.support.fake_llm import Text, ToolCalls
from tests.support.tools import tool_messages


def make_agent(tmp_path, fake_llm, tools, permissions=None) -> Agent:
    config = {"agentId": "ctx", "systemPrompt": "Test agent.",
              "llm": {"provider": "openai-compatible", "model": "fake-model", "baseURL": fake_llm.base_url,
                      "apiKey": "sk-test-key-0123456789abcdef", "maxRetries": 0, "timeout": 10},
              "storage": {"database": {"type": "sqlite", "path": str(tmp_path / "agent.db")}},
              "permissions": permissions or {"mode": "auto-approve"}}
    loaded = parse_agent(config, env={})
    loaded.path = str(tmp_path / "agent.yml")   # the agent's folder is the tools' working folder
    return Agent(loaded, tools=list(tools))


def results(events) -> dict[str, ToolResultEvent]:
    return {e.call_id: e for e in events if isinstance(e, ToolResultEvent)}


async def test_a_tool_receives_the_turns_context(tmp_path, fake_llm):
    seen: list[ToolCallContext] = []

    def where(context: ToolCallContext) -> str:
        seen.append(context)
        return "ok"

    fake_llm.script(ToolCalls([("c1", "where", {})]), Text("done"))
    agent = await make_agent(tmp_path, fake_llm, [FunctionTool(where)]).start()
    try:
        events = [e async for e in agent.run("s-ctx", "where am I?", owner="alice")]
    finally:
        await agent.stop()
    assert results(events)["c1"].success
    context = seen[0]
    assert (context.call_id, context.session_id, context.owner, context.agent_id) == ("c1", "s-ctx", "alice", "ctx")
    assert context.working_dir == tmp_path and not context.cancelled


async def test_the_model_cannot_set_the_context_parameter():
    got = []

    def tool(text: str, ctx: "ToolCallContext") -> str:
        got.append(ctx)
        return text

    context = ToolCallContext(call_id="c1")
    result = await FunctionTool(tool).call({"text": "hi", "ctx": "forged"}, context)
    assert result.as_text() == "hi" and got == [context]


async def test_a_blocking_sync_tool_does_not_block_another_sessions_turn(tmp_path, fake_llm):
    entered, release = threading.Event(), threading.Event()

    def block() -> str:
        entered.set()
        release.wait(10)   # a blocking call (e.g. a slow library) holding its thread
        return "unblocked"

    fake_llm.script(ToolCalls([("c1", "block", {})]))   # later requests get the default reply
    agent = await make_agent(tmp_path, fake_llm, [FunctionTool(block)]).start()
    try:
        blocked = asyncio.create_task(agent.generate("s-a", "block please"))
        assert await asyncio.to_thread(entered.wait, 5)
        # While the tool holds its thread, another session's whole turn completes.
        other = await asyncio.wait_for(agent.generate("s-b", "hello"), 5)
        assert other["response"] == "fake reply to: hello" and not blocked.done()
        release.set()
        first = await asyncio.wait_for(blocked, 5)
    finally:
        release.set()
        await agent.stop()
    assert first["response"] == "fake reply to: block please"
    assert any(tool_messages(r).get("c1") == "unblocked" for r in fake_llm.requests)


async def test_cancelling_the_turn_reaches_a_sync_tools_thread(tmp_path, fake_llm):
    entered, stopped = threading.Event(), threading.Event()

    def long_job(context: ToolCallContext) -> str:
        entered.set()
        if context.cancellation.wait_blocking(10):
            stopped.set()
            return "stopped early"
        return "finished"

    fake_llm.script(ToolCalls([("c1", "long_job", {})]))
    agent = await make_agent(tmp_path, fake_llm, [FunctionTool(long_job)]).start()
    try:
        run = await agent.start_run("s-c", "run the long job")
        assert await asyncio.to_thread(entered.wait, 5)
        assert await agent.cancel("s-c")
        assert await asyncio.to_thread(stopped.wait, 2)   # the thread saw the turn's cancel
    finally:
        await agent.stop()
    assert run.result.finish_reason == "cancelled"


async def test_a_timed_out_sync_tool_is_told_through_its_context():
    told = threading.Event()

    def slow(context: ToolCallContext) -> str:
        if context.cancellation.wait_blocking(5):
            told.set()
        return "late"

    context = ToolCallContext(call_id="c1")
    with pytest.raises(asyncio.TimeoutError):
        await FunctionTool(slow, timeout=0.1).call({}, context)
    assert await asyncio.to_thread(told.wait, 2) and context.cancellation.reason == "timed out"


async def test_cancellation_can_be_awaited_and_polled():
    token = Cancellation()
    waiter = asyncio.create_task(token.wait())
    await asyncio.sleep(0.01)
    assert not waiter.done() and not token.cancelled
    threading.Thread(target=token.cancel, args=("stop",)).start()   # from another thread
    await asyncio.wait_for(waiter, 2)
    assert token.cancelled and token.reason == "stop"
    token.cancel("again")
    assert token.reason == "stop"
    await asyncio.wait_for(token.wait(), 1)   # already cancelled: returns at once


async def test_a_tool_error_goes_back_to_the_model_with_its_message(tmp_path, fake_llm):
    def fetch(url: str) -> str:
        raise ToolError(f"{url} is not reachable")

    fake_llm.script(ToolCalls([("c1", "fetch", {"url": "http://example.invalid"})]), Text("sorry"))
    agent = await make_agent(tmp_path, fake_llm, [FunctionTool(fetch)]).start()
    try:
        events = [e async for e in agent.run("s-e", "fetch it")]
    finally:
        await agent.stop()
    assert results(events)["c1"].error == "Tool fetch failed: http://example.invalid is not reachable"
    assert tool_messages(fake_llm.requests[1])["c1"] == "Tool fetch failed: http://example.invalid is not reachable"


class InsideWorkingFolder:
    """A sandbox-like policy: `write` may only touch paths inside the call's working folder."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, dict[str, Any], ToolCallContext]] = []

    def evaluate(self, tool_name, arguments, context):
        self.asked.append((tool_name, arguments, context))
        if tool_name != "write":
            return None
        target = (context.working_dir / arguments.get("path", "")).resolve()
        if not target.is_relative_to(context.working_dir.resolve()):
            return PolicyDecision.deny(f"'{arguments.get('path')}' is outside the working folder")
        return PolicyDecision.allow()


async def test_a_policy_sees_arguments_and_context_and_its_deny_reaches_the_model(tmp_path, fake_llm):
    written: list[str] = []

    def write(path: str, text: str) -> str:
        written.append(path)
        return f"wrote {len(text)} characters to {path}"

    fake_llm.script(ToolCalls([("c1", "write", {"path": "notes.txt", "text": "hi"}),
                               ("c2", "write", {"path": "../../etc/passwd", "text": "x"})]),
                    Text("one of two"))
    agent = await make_agent(tmp_path, fake_llm, [FunctionTool(write)]).start()
    policy = InsideWorkingFolder()
    agent.approvals.policies.append(policy)
    try:
        events = [e async for e in agent.run("s-p", "write two files", owner="bob")]
    finally:
        await agent.stop()
    assert written == ["notes.txt"]
    assert results(events)["c1"].success and not results(events)["c2"].success
    denied = "Tool call write was denied: '../../etc/passwd' is outside the working folder"
    assert tool_messages(fake_llm.requests[1])["c2"] == denied
    name, arguments, context = next(a for a in policy.asked if a[2].call_id == "c2")
    assert (name, arguments, context.owner, context.session_id) == (
        "write", {"path": "../../etc/passwd", "text": "x"}, "bob", "s-p")
    # A denied call never ran, so it never announced itself as running.
    assert [e.call_id for e in events if isinstance(e, ToolRunningEvent)] == ["c1"]
