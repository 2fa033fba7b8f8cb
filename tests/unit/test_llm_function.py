"""FunctionModel: the in-process test model whose steps a Python function answers."""

from __future__ import annotations

import asyncio
import json

import pytest

from switchyard.config import parse_agent
from switchyard.errors import LLMError
from switchyard.llm.base import (Finish, LLMClient, ReasoningDelta, TextDelta, ToolCallAccumulator, ToolCallDelta,
                                 ToolSpec, Usage, content_to_text)
from switchyard.llm.function import FunctionModel, StepInfo, tool_call
from switchyard.runtime.agent import Agent
from switchyard.tools.base import FunctionTool

USER = [{"role": "user", "content": "hello there"}]
LOOKUP = ToolSpec("lookup", "Look something up.", {"type": "object", "properties": {"q": {"type": "string"}}})


async def deltas(model: FunctionModel, messages=USER, tools=(), system=None) -> list:
    return [d async for d in model.stream(list(messages), list(tools), system=system)]


def text_of(items: list) -> str:
    return "".join(d.text for d in items if isinstance(d, TextDelta))


async def test_a_text_reply_streams_in_pieces_with_usage_and_stop():
    model = FunctionModel(lambda messages, tools, info: "the answer is forty two")
    out = await deltas(model, system="Be brief.")
    pieces = [d for d in out if isinstance(d, TextDelta)]
    assert len(pieces) == 5 and text_of(out) == "the answer is forty two"
    assert out[-2] == Usage(input_tokens=4, output_tokens=5)  # words: system 2 + messages 2
    assert out[-1] == Finish("stop")
    assert isinstance(model, LLMClient) and (model.provider, model.model) == ("function", "function")


async def test_the_function_sees_messages_tools_and_step_info():
    seen = []

    def reply(messages, tools, info):
        seen.append((messages[-1]["content"], [t.name for t in tools], info))
        return "ok"

    model = FunctionModel(reply, model="fn-1")
    await deltas(model, tools=[LOOKUP], system="You are a test.")
    after_tools = USER + [
        {"role": "assistant", "content": "", "toolCalls": [{"id": "c1", "type": "function",
                                                            "function": {"name": "lookup", "arguments": "{}"}}]},
        {"role": "tool", "content": "42", "toolCallId": "c1", "name": "lookup"}]
    await deltas(model, messages=after_tools)
    assert seen == [("hello there", ["lookup"], StepInfo(step=1, call=1, system="You are a test.")),
                    ("42", [], StepInfo(step=2, call=2, system=None))]
    # Each step is recorded with a copy of its messages.
    assert [len(s.messages) for s in model.steps] == [1, 3] and model.steps[0].tools == [LOOKUP]


async def test_tool_calls_stream_as_fragments_that_join_back():
    model = FunctionModel(lambda m, t, i: [tool_call("lookup", {"q": "x"}, id="c1"), tool_call("lookup", "{bad")])
    out = await deltas(model, tools=[LOOKUP])
    acc = ToolCallAccumulator()
    for d in out:
        if isinstance(d, ToolCallDelta):
            acc.add(d)
    calls = acc.calls()
    assert [(c.id, c.name, c.arguments) for c in calls] == [("c1", "lookup", '{"q": "x"}'),
                                                           ("fn_call_1", "lookup", "{bad")]
    assert sum(isinstance(d, ToolCallDelta) for d in out) == 4  # two fragments per call
    assert out[-1] == Finish("tool-calls") and isinstance(out[-2], Usage)


async def test_deltas_are_streamed_as_given_from_an_async_generator_or_a_list():
    async def thinking(messages, tools, info):
        yield ReasoningDelta("let me think")
        await asyncio.sleep(0)
        yield TextDelta("done")
        yield Finish("length")

    assert await deltas(FunctionModel(thinking)) == [ReasoningDelta("let me think"), TextDelta("done"),
                                                     Finish("length")]
    listed = [TextDelta("a"), Usage(1, 1), Finish("stop")]
    assert await deltas(FunctionModel(lambda m, t, i: listed)) == listed


async def test_an_async_function_and_a_raised_provider_error():
    async def later(messages, tools, info):
        await asyncio.sleep(0)
        return "later"

    assert text_of(await deltas(FunctionModel(later))) == "later"

    def failing(messages, tools, info):
        raise LLMError("scripted failure", provider="function")

    with pytest.raises(LLMError, match="scripted failure"):
        await deltas(FunctionModel(failing))


@pytest.mark.parametrize("reply", [None, [], 42, ["text", "more"]])
async def test_a_reply_of_another_kind_is_a_clear_type_error(reply):
    with pytest.raises(TypeError, match="returns a str"):
        await deltas(FunctionModel(lambda m, t, i: reply))


async def test_drives_an_agent_turn_with_a_tool_round_trip(tmp_path):
    def lookup(q: str) -> str:
        """Look something up."""
        return f"found {q}"

    def reply(messages, tools, info):
        if info.step == 1:
            assert [t.name for t in tools] == ["lookup"] and info.system and "test agent" in info.system
            return [tool_call("lookup", {"q": messages[-1]["content"]})]
        return f"the tool said: {content_to_text(messages[-1]['content'])}"

    model = FunctionModel(reply)
    loaded = parse_agent({"agentId": "fn", "systemPrompt": "You are a test agent.",
                          "storage": {"database": {"type": "sqlite", "path": str(tmp_path / "fn.db")}}}, env={})
    agent = await Agent(loaded, llm_client=model, tools=[FunctionTool(lookup)]).start()
    try:
        [_ async for _ in agent.run("s", "cats")]
        history = await agent.history("s")
    finally:
        await agent.stop()
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant"]
    assert json.loads(history[1]["toolCalls"][0]["function"]["arguments"]) == {"q": "cats"}
    assert history[-1]["content"] == "the tool said: found cats"
    assert [s.info.step for s in model.steps] == [1, 2]
    assert model.closed  # the agent closes its client on stop
