"""The `bedrock` provider (boto3's ConverseStream, unpatched: SigV4 signing, the binary
event-stream decoder) against a loopback fake speaking Bedrock's wire protocol: a streamed
answer with reasoning and usage, a tool call round trip, a 429 with Retry-After, a 500, and
errors that never contain the credentials."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

pytest.importorskip("boto3", reason="the [bedrock] extra (boto3) is not installed")

from switchyard.config.schema import LLMConfig  # noqa: E402
from switchyard.errors import LLMError  # noqa: E402
from switchyard.llm.base import Finish, ReasoningDelta, TextDelta, ToolCallAccumulator, ToolCallDelta, ToolSpec, Usage  # noqa: E402
from switchyard.llm.factory import create_llm_client  # noqa: E402
from switchyard.llm.retry import RetryPolicy  # noqa: E402
from tests.support.fake_bedrock import FakeBedrock  # noqa: E402
from tests.support.fake_llm import Error, Text, ToolCalls  # noqa: E402

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKEKEY99"
WEATHER = ToolSpec("get_weather", "Weather for a city",
                   {"type": "object", "properties": {"city": {"type": "string"}}})


@pytest.fixture(scope="module")
def bedrock_server() -> Iterator[FakeBedrock]:
    server = FakeBedrock().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bedrock(bedrock_server: FakeBedrock, monkeypatch) -> Iterator[FakeBedrock]:
    # The standard AWS credential chain, from the environment.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKE0000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    bedrock_server.reset()
    yield bedrock_server
    assert bedrock_server.pending == 0, "scripted steps left unrequested"


def make_client(fake: FakeBedrock, retries: int = 2, on_retry: Any = None, **cfg: Any):
    config = LLMConfig(provider="bedrock", baseURL=fake.root_url, maxRetries=retries, **cfg)
    return create_llm_client(config, env={"AWS_REGION": "eu-west-1"}, on_retry=on_retry,
                             retry_policy=RetryPolicy(max_retries=retries, base_delay=0.01))


async def collect(client, messages=None, tools=(), system=None) -> list[Any]:
    messages = messages or [{"role": "user", "content": "hi there"}]
    return [d async for d in client.stream(messages, list(tools), system=system)]


async def test_streamed_answer_reasoning_usage(bedrock):
    bedrock.script(Text("hello world", chunks=3, usage=(7, 3), reasoning="pondering"))
    client = make_client(bedrock, maxOutputTokens=500, reasoning={"variant": "low"})
    deltas = await collect(client, system="Be brief.")
    await client.aclose()
    assert [d.text for d in deltas if isinstance(d, TextDelta)] == ["hell", "o wo", "rld"]
    assert [d.text for d in deltas if isinstance(d, ReasoningDelta)] == ["pondering"]
    assert [d for d in deltas if isinstance(d, Usage)] == [Usage(input_tokens=7, output_tokens=3)]
    assert deltas[-1] == Finish("stop")
    req = bedrock.last_request
    assert req["model"] == "amazon.nova-lite-v1:0"
    assert req["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIAFAKEFAKEFAKE0000/")
    assert "/eu-west-1/bedrock/aws4_request" in req["headers"]["authorization"]
    body = req["json"]
    assert body["system"] == [{"text": "Be brief."}]
    assert body["messages"] == [{"role": "user", "content": [{"text": "hi there"}]}]
    assert body["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    assert body["inferenceConfig"]["maxTokens"] > 1024


async def test_tool_call_round_trip(bedrock):
    bedrock.script(ToolCalls([("tooluse_1", "get_weather", {"city": "Lima"})]), Text("mild in Lima"))
    client = make_client(bedrock)
    acc = ToolCallAccumulator()
    first = await collect(client, tools=[WEATHER])
    for d in first:
        if isinstance(d, ToolCallDelta):
            acc.add(d)
    [call] = acc.calls()
    assert (call.id, call.name, json.loads(call.arguments)) == ("tooluse_1", "get_weather", {"city": "Lima"})
    assert first[-1] == Finish("tool-calls")
    assert bedrock.last_request["json"]["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"] == {
        "json": WEATHER.parameters}
    history = [{"role": "user", "content": "weather?"},
               {"role": "assistant", "content": None, "toolCalls": [call.to_message_dict()]},
               {"role": "tool", "toolCallId": "tooluse_1", "content": "18C"}]
    second = await collect(client, messages=history, tools=[WEATHER])
    await client.aclose()
    assert "".join(d.text for d in second if isinstance(d, TextDelta)) == "mild in Lima"
    messages = bedrock.last_request["json"]["messages"]
    assert messages[1] == {"role": "assistant", "content": [
        {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Lima"}}}]}
    assert messages[2] == {"role": "user", "content": [
        {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "18C"}]}}]}


async def test_429_honours_retry_after(bedrock):
    bedrock.script(Error(429, retry_after=0, message="Too many requests"), Text("ok"))
    retries: list[tuple[float, LLMError]] = []
    client = make_client(bedrock, on_retry=lambda n, delay, err: retries.append((delay, err)))
    deltas = await collect(client)
    await client.aclose()
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "ok"
    assert len(retries) == 1 and retries[0][0] == 0
    assert retries[0][1].upstream_status == 429 and "ThrottlingException" in retries[0][1].message


async def test_500_names_provider_and_status_never_the_secret(bedrock):
    bedrock.script(*[Error(500, message=f"boom {SECRET}") for _ in range(2)])
    client = make_client(bedrock, retries=1)
    with pytest.raises(LLMError) as info:
        await collect(client)
    await client.aclose()
    assert info.value.provider == "bedrock" and info.value.upstream_status == 500
    assert "bedrock request failed" in info.value.message and "HTTP 500" in info.value.message
    assert "boom" in info.value.message and SECRET not in str(info.value)
    assert len(bedrock.requests) == 2


async def test_400_is_not_retried(bedrock):
    bedrock.script(Error(400, message="model not found"))
    client = make_client(bedrock)
    with pytest.raises(LLMError) as info:
        await collect(client)
    await client.aclose()
    assert info.value.upstream_status == 400 and len(bedrock.requests) == 1
