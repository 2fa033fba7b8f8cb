"""The agent loop driven by the scripted fake LLM over real HTTP (openai-compatible provider)."""

from __future__ import annotations

import asyncio
import pytest

from switchyard.config import parse_agent
from switchyard.errors import ConflictError, LimitError
from switchyard.events import (ErrorEvent, ResponseEvent, RunCompleteEvent, ToolCallEvent,
                               ToolResultEvent, UpstreamFailure)
from switchyard.llm.openai_provider import to_openai_messages
from switchyard.runtime.agent import Agent
from switchyard.tools.base import FunctionTool
from tests.support.fake_llm import Delay, Error, Text, ToolCalls


def make_agent(tmp_path, fake_llm, *, tools=(), **overrides) -> Agent:
    llm = {"provider": "openai-compatible", "model": "fake-model", "baseURL": fake_llm.base_url,
           "apiKey": "sk-test-key-0123456789abcdef", "maxRetries": 2, "timeout": 10}
    llm.update(overrides.pop("llm", {}))
    config = {"agentId": "loop", "systemPrompt": "You are a test agent.", "llm": llm,
              "storage": {"database": {"type": "sqlite", "path": str(tmp_path / "agent.db")}}, **overrides}
    return Agent(parse_agent(config, env={}), tools=list(tools))


async def collect(agent: Agent, session: str, content: str):
    return [e async for e in agent.run(session, content)]


def names(events):
    return [e.name for e in events]


RUNNING = {"now": 0, "peak": 0}


async def weather(city: str) -> str:
    """The weather in a city."""
    RUNNING["now"] += 1
    RUNNING["peak"] = max(RUNNING["peak"], RUNNING["now"])
    try:
        await asyncio.sleep(0.2)
    finally:
        RUNNING["now"] -= 1
    return f"sunny in {city}"


def explode(reason: str) -> str:
    raise RuntimeError(f"boom: {reason}")


WEATHER = FunctionTool(weather, input_schema={"type": "object", "properties": {"city": {"type": "string"}},
                                              "required": ["city"]})
EXPLODE = FunctionTool(explode, input_schema={"type": "object", "properties": {"reason": {"type": "string"}}})


async def test_tool_loop_runs_calls_of_one_step_concurrently(tmp_path, fake_llm):
    fake_llm.script(
        ToolCalls([("c1", "weather", {"city": "Paris"}), ("c2", "weather", {"city": "Oslo"})]),
        Text("Paris and Oslo are sunny.", usage=(40, 6)))
    agent = await make_agent(tmp_path, fake_llm, tools=[WEATHER]).start()
    RUNNING["peak"] = 0
    try:
        events = await collect(agent, "s", "weather in Paris and Oslo?")
    finally:
        await agent.stop()
    assert names(events)[0] == "llm:thinking" and names(events)[-1] == "run:complete"
    calls = [e for e in events if isinstance(e, ToolCallEvent)]
    assert [(c.tool_name, c.args, c.call_id) for c in calls] == [
        ("weather", {"city": "Paris"}, "c1"), ("weather", {"city": "Oslo"}, "c2")]
    results = {e.call_id: e for e in events if isinstance(e, ToolResultEvent)}
    assert results["c1"].success and results["c1"].content == [{"type": "text", "text": "sunny in Paris"}]
    assert RUNNING["peak"] == 2  # both calls of the step were running at once
    response = next(e for e in events if isinstance(e, ResponseEvent))
    assert response.content == "Paris and Oslo are sunny."
    assert response.provider == "openai-compatible" and response.model == "fake-model"
    assert events[-1] == RunCompleteEvent("s", "stop", 2, events[-1].duration_ms,
                                          timestamp=events[-1].timestamp)

    # The second request carried the tool results back, with their ids.
    second = fake_llm.requests[1]["json"]["messages"]
    tool_msgs = [m for m in second if m["role"] == "tool"]
    assert {m["tool_call_id"] for m in tool_msgs} == {"c1", "c2"}
    assert second[0] == {"role": "system", "content": "You are a test agent."}


async def test_tool_failures_and_bad_arguments_go_back_to_the_model(tmp_path, fake_llm):
    fake_llm.script(
        ToolCalls([("a", "explode", {"reason": "x"}), ("b", "weather", "{not json"), ("c", "missing_tool", {})]),
        Text("I could not do it."))
    agent = await make_agent(tmp_path, fake_llm, tools=[WEATHER, EXPLODE]).start()
    try:
        events = await collect(agent, "s", "try tools")
        history = await agent.history("s")
    finally:
        await agent.stop()
    results = {e.call_id: e for e in events if isinstance(e, ToolResultEvent)}
    assert not results["a"].success and "boom: x" in results["a"].error
    assert not results["b"].success and "not valid JSON" in results["b"].error
    assert not results["c"].success and "Unknown tool 'missing_tool'" in results["c"].error
    assert events[-1].finish_reason == "stop"
    roles = [m["role"] for m in history]
    assert roles == ["user", "assistant", "tool", "tool", "tool", "assistant"]
    assert [m["toolCallId"] for m in history if m["role"] == "tool"] == ["a", "b", "c"]
    assert history[1]["toolCalls"][1]["function"]["arguments"] == "{not json"


async def test_max_iterations_bounds_the_loop(tmp_path, fake_llm):
    fake_llm.script(*[ToolCalls([(f"c{i}", "weather", {"city": "X"})]) for i in range(3)])
    agent = await make_agent(tmp_path, fake_llm, tools=[WEATHER], llm={"maxIterations": 3}).start()
    try:
        events = await collect(agent, "s", "loop forever")
    finally:
        await agent.stop()
    assert len(fake_llm.requests) == 3
    assert events[-1].finish_reason == "max-steps" and events[-1].step_count == 3


async def test_provider_error_ends_the_run_with_llm_error(tmp_path, fake_llm):
    fake_llm.script(Error(401, message="invalid api key provided"))
    agent = await make_agent(tmp_path, fake_llm).start()
    try:
        events = await collect(agent, "s", "hi")
        history = await agent.history("s")
    finally:
        await agent.stop()
    error = next(e for e in events if isinstance(e, ErrorEvent))
    assert error.recoverable is False and error.upstream == UpstreamFailure("openai-compatible", 401)
    assert "sk-test-key" not in error.message
    assert events[-1].finish_reason == "error" and events[-1].error == error.message
    assert [m["role"] for m in history] == ["user"]  # nothing half-written


async def test_retries_emit_llm_retrying(tmp_path, fake_llm):
    fake_llm.script(Error(429, retry_after=0), Text("after retry"))
    agent = await make_agent(tmp_path, fake_llm).start()
    try:
        events = await collect(agent, "s", "hi")
    finally:
        await agent.stop()
    assert "llm:retrying" in names(events)
    assert next(e for e in events if isinstance(e, ResponseEvent)).content == "after retry"


async def test_cancel_records_what_was_said(tmp_path, fake_llm):
    fake_llm.script(Text("partial words then much more text", chunks=6, chunk_delay=0.3))
    agent = await make_agent(tmp_path, fake_llm).start()
    try:
        run = await agent.start_run("s", "talk slowly")
        async for event in run.follow():
            if event.name == "llm:chunk":
                break
        assert agent.is_busy("s")
        assert await agent.cancel("s") is True
        assert isinstance(run.events[-1], RunCompleteEvent) and run.events[-1].finish_reason == "cancelled"
        assert run.result.finish_reason == "cancelled" and not run.result.answered
        assert not agent.is_busy("s")
        history = await agent.history("s")
    finally:
        await agent.stop()
    assert history[0]["content"] == "talk slowly"
    assert history[1]["role"] == "assistant" and history[1]["finishReason"] == "cancelled"
    assert "partial words then much more text".startswith(history[1]["content"]) and history[1]["content"]


async def test_turns_on_one_session_are_serialised(tmp_path, fake_llm):
    fake_llm.script(Text("first", delay=0.3), Text("second"))
    agent = await make_agent(tmp_path, fake_llm).start()
    try:
        first = await agent.start_run("s", "one")
        with pytest.raises(ConflictError):
            await agent.start_run("s", "refused", wait=False)
        second_task = asyncio.create_task(agent.generate("s", "two"))
        await first.wait()
        second = await second_task
        history = await agent.history("s")
    finally:
        await agent.stop()
    assert second["response"] == "second"
    assert [m["content"] for m in history] == ["one", "first", "two", "second"]
    # The second turn saw the first one's answer.
    assert [m["content"] for m in fake_llm.requests[1]["json"]["messages"]][-2:] == ["first", "two"]


async def test_history_survives_a_restart(tmp_path, fake_llm):
    fake_llm.script(Text("noted"), Text("you said remember 42"))
    agent = await make_agent(tmp_path, fake_llm).start()
    await agent.generate("s", "remember 42")
    await agent.stop()
    again = await make_agent(tmp_path, fake_llm).start()
    try:
        result = await again.generate("s", "what did I say?")
        history = await again.history("s")
    finally:
        await again.stop()
    assert result["response"] == "you said remember 42"
    assert [m["content"] for m in history] == ["remember 42", "noted", "what did I say?", "you said remember 42"]
    sent = [m["content"] for m in fake_llm.requests[1]["json"]["messages"]]
    assert sent[1:] == ["remember 42", "noted", "what did I say?"]


async def test_max_sessions_bounds_memory_and_ttl_evicts_without_loss(tmp_path, fake_llm):
    agent = await make_agent(tmp_path, fake_llm, llm={"provider": "echo", "model": "echo", "baseURL": None,
                                                      "apiKey": None},
                             sessions={"maxSessions": 3, "sessionTTL": 50}).start()
    try:
        for i in range(10):
            await agent.generate(f"s{i}", f"message {i}")
            assert len(agent.live) <= 3
        await asyncio.sleep(0.1)
        assert agent.live.sweep() > 0 and len(agent.live) == 0
        history = await agent.history("s0")  # evicted long ago, still all there
        assert [m["content"] for m in history] == ["message 0", "Echo: message 0"]
    finally:
        await agent.stop()


async def test_all_sessions_busy_refuses_a_new_one(tmp_path, fake_llm):
    fake_llm.script(*[Text("slow", delay=0.5) for _ in range(2)])
    agent = await make_agent(tmp_path, fake_llm, sessions={"maxSessions": 2, "sessionTTL": 60000}).start()
    try:
        runs = [await agent.start_run(f"b{i}", "hi") for i in range(2)]
        with pytest.raises(LimitError) as info:
            await agent.start_run("b3", "hi")
        assert info.value.code == "session_max_sessions_exceeded"
        for run in runs:
            await run.wait()
    finally:
        await agent.stop()


async def test_history_kept_between_turns_matches_the_store(tmp_path, fake_llm, monkeypatch):
    """A session's next turn reuses the history its last turn left in memory, but only while
    the store still holds exactly that: another writer (another replica appending, a reset)
    makes the turn read the store again. The model sees the same messages either way."""
    fake_llm.script(
        ToolCalls([("c1", "weather", {"city": "Paris"})]), Text("Sunny."),
        Text("Second answer."), Text("Third answer."), Text("After the reset."))
    agent = await make_agent(tmp_path, fake_llm, tools=[WEATHER]).start()
    reads = []
    # A turn reads the messages of the model's context (the whole history here: no
    # clear-context), runtime/turn.py.
    original = agent.store.sessions.context

    async def counting_history(agent_id, session_id):
        reads.append(session_id)
        return await original(agent_id, session_id)

    monkeypatch.setattr(agent.store.sessions, "context", counting_history)

    def sent(i):  # (role, content) of what request i sent, without the system prompt
        return [(m["role"], m.get("content")) for m in fake_llm.requests[i]["json"]["messages"]
                if m["role"] != "system"]

    try:
        await collect(agent, "s", "weather?")                     # requests 0 and 1 (a tool step)
        await collect(agent, "s", "and tomorrow?")                # request 2: from memory
        assert reads == []
        # Exactly what reading the store would have sent.
        stored = to_openai_messages((await original(agent.id, "s"))[:5])
        assert fake_llm.requests[2]["json"]["messages"][1:] == stored
        assert sent(2)[-1] == ("user", "and tomorrow?")
        assert [r for r, _ in sent(2)] == ["user", "assistant", "tool", "assistant", "user"]

        # Another writer appends behind this process's back: the next turn reads the store.
        await agent.store.sessions.append(agent.id, "s", [
            {"id": "x1", "role": "user", "content": "written elsewhere", "timestamp": 1}])
        await collect(agent, "s", "third?")                       # request 3
        assert reads == ["s"]
        assert ("user", "written elsewhere") in sent(3) and sent(3)[-1] == ("user", "third?")

        # A reset clears the stored history without moving the sequence: not reused either.
        await agent.reset("s")
        await collect(agent, "s", "fresh start")                  # request 4
        assert reads == ["s", "s"]
        assert sent(4) == [("user", "fresh start")]
    finally:
        await agent.stop()


def test_kept_history_is_sized_incrementally_and_bounded(monkeypatch):
    """Keeping a history again sizes only what the turn appended; over the bound, nothing is kept."""
    from switchyard.runtime import sessions as live_sessions
    from switchyard.runtime.sessions import LiveSession

    live = LiveSession("s")
    first = [{"role": "user", "content": "x" * 10}]
    live.keep_history(first, ("t", 1, 1))
    assert live.history_chars == 10
    lent = live.take_history(("t", 1, 1))
    assert lent is first and live.history is None           # given away while the turn runs
    lent += [{"role": "assistant", "content": "y" * 5}, {"role": "tool", "content": [{"type": "text"}]}]
    sized = []
    real_size = live_sessions._size
    monkeypatch.setattr(live_sessions, "_size", lambda ms: sized.append(len(ms)) or real_size(ms))
    live.keep_history(lent, ("t", 3, 3))
    assert sized == [2]                                       # only the two new messages
    assert live.history_chars == 10 + 5 + len(repr([{"type": "text"}]))
    assert live.take_history(("t", 9, 9)) is None            # another writer moved the mark

    monkeypatch.setattr(live_sessions, "HISTORY_CACHE_MAX_CHARS", 12)
    live.keep_history([{"role": "user", "content": "z" * 13}], ("t", 4, 1))
    assert live.history is None


async def test_stop_drops_turns_queued_behind_a_running_one_and_leaves_no_background_work(tmp_path, fake_llm):
    from switchyard.runtime.agent import QUEUED_TURNS
    fake_llm.script(Delay(0.5, then=Text("first answer")))
    agent = await make_agent(tmp_path, fake_llm).start()
    assert agent.supervisor.names() == ["sweeper:loop"]
    run = await agent.start_run("s", "first")
    # As POST /api/message does on a busy session: the turn waits under the agent's supervisor.
    queued = agent.supervisor.spawn(agent.start_run("s", "second"), name="queued-turn:s", group=QUEUED_TURNS)
    await asyncio.sleep(0.05)
    await agent.stop(grace=5)
    assert run.done and run.result.finish_reason == "stop"
    assert queued.cancelled() and len(agent.supervisor) == 0
    assert len(fake_llm.requests) == 1   # the queued turn never started


async def test_cli_printer_reads_the_run_activity(tmp_path, fake_llm, capsys):
    """`switchyard run`/`chat` print the answer to stdout and tool activity to stderr."""
    from switchyard.cli import _print_turn

    fake_llm.script(ToolCalls([("c1", "weather", {"city": "Oslo"})]), Text("Oslo is sunny.", chunks=3))
    agent = await make_agent(tmp_path, fake_llm, tools=[WEATHER]).start()
    try:
        status = await _print_turn(agent, "cli", "weather in Oslo?")
    finally:
        await agent.stop()
    out, err = capsys.readouterr()
    assert status == 0 and out == "Oslo is sunny.\n"
    assert err == '\n[tool] weather({"city": "Oslo"})\n[tool] weather -> ok: sunny in Oslo\n'


async def test_cli_printer_reports_a_failed_run(tmp_path, fake_llm, capsys):
    from switchyard.cli import _print_turn

    fake_llm.script(Error(401, message="invalid api key provided"))
    agent = await make_agent(tmp_path, fake_llm).start()
    try:
        status = await _print_turn(agent, "cli", "hi")
    finally:
        await agent.stop()
    out, err = capsys.readouterr()
    assert status == 1 and out == "\n" and err.startswith("\nerror: ") and "401" in err


async def test_the_bus_carries_a_runs_events_and_outside_events(tmp_path, fake_llm):
    """A subscriber on the agent's bus sees the run's own events (the same typed values the
    run holds) and events from outside a turn, like a new title."""
    from switchyard.events import TitleUpdatedEvent

    fake_llm.script(Text("hello there", chunks=2))
    agent = await make_agent(tmp_path, fake_llm).start()
    seen = []
    completed = asyncio.Event()

    async def listen() -> None:
        async for event in agent.bus.subscribe("bus"):
            seen.append(event)
            if isinstance(event, RunCompleteEvent):
                completed.set()
            if isinstance(event, TitleUpdatedEvent):
                return

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0)  # subscribed
    try:
        run = await agent.start_run("bus", "hi")
        await asyncio.wait_for(completed.wait(), 5)
        await agent.set_title("bus", "Greetings")
        await asyncio.wait_for(listener, 5)
    finally:
        await agent.stop()
    assert seen[:-1] == run.events
    assert seen[-1] == TitleUpdatedEvent("bus", "Greetings", timestamp=seen[-1].timestamp)
    assert run.result.content == "hello there" and run.result.steps == 1
