"""OpenAI and Anthropic providers against the fake LLM server over real loopback HTTP (the
official SDKs and their HTTP client run unpatched): streaming, tool calls, usage, message
conversion, retries, and errors that never leak the key."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from switchyard.config.schema import LLMConfig
from switchyard.errors import LLMError
from switchyard.llm.base import Finish, ReasoningDelta, TextDelta, ToolCallAccumulator, ToolCallDelta, ToolSpec, Usage
from switchyard.llm.factory import create_llm_client
from switchyard.llm.retry import RetryPolicy
from tests.support.fake_llm import Broken, Delay, Error, FakeLLM, Text, ToolCalls
from tests.support.net import closed_port_url

KEY = "sk-test-SuperSecretKey0123456789"
WEATHER = ToolSpec("get_weather", "Weather for a city",
                   {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
FAST = RetryPolicy(max_retries=2, base_delay=0.01)
PROVIDERS = ["openai", "anthropic"]


def url_for(fake: FakeLLM, provider: str) -> str:
    return fake.anthropic_base_url if provider == "anthropic" else fake.base_url


def make_client(fake: FakeLLM | None, provider: str, *, base_url: str | None = None,
                policy: RetryPolicy | None = FAST, on_retry: Any = None, **cfg: Any):
    config = LLMConfig(provider=provider, apiKey=KEY,
                       baseURL=base_url or url_for(fake, provider), **cfg)  # type: ignore[arg-type]
    if policy is not None:
        policy = RetryPolicy(max_retries=config.maxRetries, base_delay=policy.base_delay)
    return create_llm_client(config, env={}, on_retry=on_retry, retry_policy=policy)


async def collect(client, messages=None, tools=(), system=None) -> list[Any]:
    messages = messages or [{"role": "user", "content": "hi there"}]
    return [d async for d in client.stream(messages, list(tools), system=system)]


def texts(deltas) -> list[str]:
    return [d.text for d in deltas if isinstance(d, TextDelta)]


# --- streaming ---------------------------------------------------------------------------

@pytest.mark.parametrize("provider", PROVIDERS)
async def test_streams_text_usage_and_finish(fake_llm, provider):
    fake_llm.script(Text("hello world", chunks=3, usage=(11, 2)))
    client = make_client(fake_llm, provider)
    deltas = await collect(client, system="Be brief.")
    await client.aclose()

    assert texts(deltas) == ["hell", "o wo", "rld"]  # streamed in pieces, not one blob
    usage = [d for d in deltas if isinstance(d, Usage)]
    assert len(usage) == 1 and usage[0].input_tokens == 11 and usage[0].output_tokens == 2
    assert deltas[-1] == Finish("stop")

    req = fake_llm.last_request
    body = req["json"]
    assert body["stream"] is True and body["model"]
    if provider == "openai":
        assert req["path"] == "/v1/chat/completions"
        assert req["headers"]["authorization"] == f"Bearer {KEY}"
        assert body["stream_options"] == {"include_usage": True}
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
        assert "tools" not in body  # no empty tools list for servers that reject it
    else:
        assert req["path"] == "/v1/messages"
        # The SDK sends the key as x-api-key (1.x) or as a bearer token (2.x).
        headers = req["headers"]
        assert headers.get("x-api-key") == KEY or headers.get("authorization") == f"Bearer {KEY}"
        assert body["system"] == "Be brief."
        assert body["max_tokens"] == 4096
        assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi there"}]}]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_reasoning_is_streamed_separately(fake_llm, provider):
    fake_llm.script(Text("answer", reasoning="thinking hard"))
    client = make_client(fake_llm, provider)
    deltas = await collect(client)
    assert [d.text for d in deltas if isinstance(d, ReasoningDelta)] == ["thinking hard"]
    assert "".join(texts(deltas)) == "answer"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_streams_tool_calls_with_split_arguments(fake_llm, provider):
    fake_llm.script(ToolCalls([("call_1", "get_weather", {"city": "Paris"}),
                               ("call_2", "get_weather", {"city": "Oslo"})], text="Checking.", arg_chunks=3))
    client = make_client(fake_llm, provider)
    deltas = await collect(client, tools=[WEATHER])

    fragments = [d for d in deltas if isinstance(d, ToolCallDelta)]
    assert len([f for f in fragments if f.index == 0 and f.arguments]) >= 2  # really split
    acc = ToolCallAccumulator()
    for f in fragments:
        acc.add(f)
    calls = acc.calls()
    assert [(c.id, c.name, c.parsed_arguments()) for c in calls] == [
        ("call_1", "get_weather", {"city": "Paris"}), ("call_2", "get_weather", {"city": "Oslo"})]
    assert "".join(texts(deltas)) == "Checking."
    assert deltas[-1] == Finish("tool-calls")

    body = fake_llm.last_request["json"]
    if provider == "openai":
        assert body["tools"] == [{"type": "function", "function": {
            "name": "get_weather", "description": "Weather for a city", "parameters": WEATHER.parameters}}]
    else:
        assert body["tools"] == [{"name": "get_weather", "description": "Weather for a city",
                                  "input_schema": WEATHER.parameters}]


CONVERSATION = [
    {"role": "system", "content": "Extra system rule."},
    {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Oslo?"},
                                 {"type": "image", "image": "aGVsbG8=", "mimeType": "image/png"}]},
    {"role": "assistant", "content": "Let me check.", "toolCalls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]},
    {"role": "tool", "toolCallId": "call_1", "name": "get_weather", "content": "sunny"},
    {"role": "tool", "toolCallId": "call_2", "name": "get_weather",
     "content": [{"type": "text", "text": "rain"}]},
]


async def test_openai_message_conversion(fake_llm):
    client = make_client(fake_llm, "openai")
    deltas = await collect(client, CONVERSATION, [WEATHER], system="You are helpful.")
    assert "".join(texts(deltas)) == "fake reply to: Weather in Paris and Oslo?"
    msgs = fake_llm.last_request["json"]["messages"]
    assert msgs[0] == {"role": "system", "content": "You are helpful."}
    assert msgs[1] == {"role": "system", "content": "Extra system rule."}
    assert msgs[2]["content"][1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8="}}
    assert msgs[3]["role"] == "assistant" and msgs[3]["content"] == "Let me check."
    assert [c["id"] for c in msgs[3]["tool_calls"]] == ["call_1", "call_2"]
    assert msgs[3]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    assert msgs[4] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
    assert msgs[5] == {"role": "tool", "tool_call_id": "call_2", "content": "rain"}


async def test_anthropic_message_conversion(fake_llm):
    client = make_client(fake_llm, "anthropic")
    await collect(client, CONVERSATION, [WEATHER], system="You are helpful.")
    body = fake_llm.last_request["json"]
    assert body["system"] == "You are helpful.\n\nExtra system rule."
    msgs = body["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]  # alternating
    assert msgs[0]["content"][1] == {"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": "aGVsbG8="}}
    assert msgs[1]["content"] == [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Oslo"}}]
    # both tool results merged into ONE user turn
    assert msgs[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "call_2", "content": "rain"}]


async def test_generation_settings_are_sent(fake_llm):
    await collect(make_client(fake_llm, "openai", temperature=0.3, maxOutputTokens=77))
    body = fake_llm.last_request["json"]
    assert body["temperature"] == 0.3 and body["max_completion_tokens"] == 77

    await collect(make_client(fake_llm, "openai-compatible", model="m", maxOutputTokens=55))
    assert fake_llm.last_request["json"]["max_tokens"] == 55

    await collect(make_client(fake_llm, "anthropic", temperature=0.5, maxOutputTokens=99))
    body = fake_llm.last_request["json"]
    assert body["temperature"] == 0.5 and body["max_tokens"] == 99


async def test_keyless_preset_never_sends_the_openai_key(fake_llm):
    """ollama needs no key; the SDK must not fall back to OPENAI_API_KEY for it."""
    cfg = LLMConfig(provider="ollama", baseURL=fake_llm.base_url)
    client = create_llm_client(cfg, env={"OPENAI_API_KEY": KEY})
    assert client.model == "llama3.2"
    await collect(client)
    assert KEY not in json.dumps(fake_llm.last_request["headers"])


# --- retries and errors --------------------------------------------------------------------

@pytest.mark.parametrize("provider", PROVIDERS)
async def test_429_is_retried_then_succeeds(fake_llm, provider):
    fake_llm.script(Error(429, retry_after=0, message="slow down"), Text("recovered"))
    seen = []
    client = make_client(fake_llm, provider, on_retry=lambda a, d, e: seen.append((a, d, e)))
    deltas = await collect(client)
    assert "".join(texts(deltas)) == "recovered"
    assert len(fake_llm.requests) == 2
    assert len(seen) == 1
    attempt, delay, error = seen[0]
    assert attempt == 1 and delay == 0.0  # Retry-After: 0 honoured instead of backoff
    assert isinstance(error, LLMError) and error.upstream_status == 429 and "slow down" in error.message


async def test_retry_after_seconds_is_honoured(fake_llm):
    fake_llm.script(Error(429, retry_after=1), Text("ok"))
    delays = []

    async def on_retry(attempt, delay, error):  # async callbacks are awaited too
        delays.append(delay)

    client = make_client(fake_llm, "openai", on_retry=on_retry)
    start = time.monotonic()
    assert "".join(texts(await collect(client))) == "ok"
    assert delays == [1.0]
    assert time.monotonic() - start >= 0.95


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_5xx_retried_with_backoff_then_success(fake_llm, provider):
    fake_llm.script(Error(500), Error(503), Text("third time lucky"))
    seen = []
    client = make_client(fake_llm, provider, maxRetries=2, on_retry=lambda a, d, e: seen.append((a, e.upstream_status)))
    assert "".join(texts(await collect(client))) == "third time lucky"
    assert seen == [(1, 500), (2, 503)]
    assert len(fake_llm.requests) == 3


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_retries_exhausted_raise_llm_error_without_key(fake_llm, provider):
    leak = f"invalid request from key {KEY}, also sk-ant-anotherSecret999"
    fake_llm.script(*[Error(503, message=leak, retry_after=0)] * 2)
    client = make_client(fake_llm, provider, maxRetries=1)
    with pytest.raises(LLMError) as info:
        await collect(client)
    err = info.value
    assert err.provider == provider and err.upstream_status == 503
    text = str(err) + err.message + json.dumps(err.to_dict())
    assert provider in str(err) and "503" in str(err)
    assert "invalid request from key" in err.message  # the upstream message is kept...
    assert KEY not in text and "anotherSecret" not in text  # ...but never the secrets
    assert len(fake_llm.requests) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_401_is_not_retried(fake_llm, provider):
    fake_llm.script(Error(401, message="invalid x-api-key"))
    seen = []
    client = make_client(fake_llm, provider, maxRetries=3, on_retry=lambda *a: seen.append(a))
    with pytest.raises(LLMError) as info:
        await collect(client)
    assert info.value.upstream_status == 401 and "invalid x-api-key" in info.value.message
    assert seen == [] and len(fake_llm.requests) == 1


async def test_400_is_not_retried(fake_llm):
    fake_llm.script(Error(400, message="messages: bad shape"))
    with pytest.raises(LLMError) as info:
        await collect(make_client(fake_llm, "openai", maxRetries=3))
    assert info.value.upstream_status == 400 and len(fake_llm.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_connection_refused(provider):
    url = closed_port_url("" if provider == "anthropic" else "/v1")
    seen = []
    client = make_client(None, provider, base_url=url, maxRetries=1, on_retry=lambda *a: seen.append(a))
    with pytest.raises(LLMError) as info:
        await collect(client)
    err = info.value
    assert err.provider == provider and err.upstream_status is None
    assert "connection" in err.message.lower() and url in err.message
    assert KEY not in str(err)
    assert len(seen) == 1  # connection errors are retryable


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_timeout_raises_llm_error(fake_llm, provider):
    fake_llm.script(Delay(30.0, then=Text("too late")))
    client = make_client(fake_llm, provider, timeout=0.4, maxRetries=0)
    # The client gives up at its timeout, not when the (30 s late) answer comes.
    with pytest.raises(LLMError) as info:
        await asyncio.wait_for(collect(client), timeout=20)
    assert "timeout" in info.value.message and info.value.provider == provider


async def test_timeout_is_retried(fake_llm):
    fake_llm.script(Delay(3.0), Text("second try"))
    client = make_client(fake_llm, "openai", timeout=0.4, maxRetries=1)
    assert "".join(texts(await collect(client))) == "second try"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_no_retry_after_text_was_streamed(fake_llm, provider):
    """A stream that breaks mid-way must not be retried: the user already saw the text."""
    fake_llm.script(Broken("aaaa bbbb cccc", chunks=3, after_chunks=1), Text("SHOULD NOT BE SENT"))
    got: list[Any] = []
    client = make_client(fake_llm, provider, maxRetries=2)
    with pytest.raises(LLMError):
        async for d in client.stream([{"role": "user", "content": "hi"}], []):
            got.append(d)
    assert texts(got) == ["aaaa "]
    assert len(fake_llm.requests) == 1
    fake_llm.reset()  # the unused step is intentional


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_consumer_can_stop_early(fake_llm, provider):
    """Breaking out of the stream (as a cancelled run does) closes it cleanly; the client
    stays usable for the next step."""
    fake_llm.script(Text("one two three four five six", chunks=6, chunk_delay=0.05))
    client = make_client(fake_llm, provider)
    stream = client.stream([{"role": "user", "content": "hi"}], [])
    async for delta in stream:
        if isinstance(delta, TextDelta):
            break
    await stream.aclose()
    assert "".join(texts(await collect(client))) == "fake reply to: hi there"
    await client.aclose()
