"""The cohere, minimax, glm and dexto-nova presets (the official openai SDK against the fake's
OpenAI chat-completions protocol on loopback): each one's documented URL and key variable, a
streamed answer, a tool call round trip, a 429 honouring Retry-After and a 500; and
`llm.reasoning` as each provider's own knob on the wire."""

from __future__ import annotations

import json
from typing import Any

import pytest

from switchyard.config.schema import LLMConfig
from switchyard.errors import ConfigError, LLMError
from switchyard.llm.base import Finish, TextDelta, ToolCallAccumulator, ToolCallDelta, ToolSpec
from switchyard.llm.factory import create_llm_client, resolve_llm
from switchyard.llm.retry import RetryPolicy
from tests.support.fake_llm import Error, Text, ToolCalls

WEATHER = ToolSpec("get_weather", "Weather for a city",
                   {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
PRESETS = {
    "cohere": ("https://api.cohere.ai/compatibility/v1", "COHERE_API_KEY", "command-a-03-2025"),
    "minimax": ("https://api.minimax.io/v1", "MINIMAX_API_KEY", "MiniMax-M2"),
    "glm": ("https://open.bigmodel.cn/api/paas/v4", "ZHIPU_API_KEY", "glm-4.5"),
    "dexto-nova": ("https://api.dexto.ai/v1", "DEXTO_API_KEY", "anthropic/claude-haiku-4.5"),
}


def key_for(provider: str) -> str:
    return f"sk-{provider}-SecretKey0123456789abcdef"


def make_client(fake, provider: str, retries: int = 2, on_retry: Any = None, **cfg: Any):
    key_env = PRESETS[provider][1] if provider in PRESETS else "UNUSED"
    config = LLMConfig(provider=provider, baseURL=fake.base_url if provider != "anthropic"
                       else fake.anthropic_base_url, maxRetries=retries, **cfg)  # type: ignore[arg-type]
    return create_llm_client(config, env={key_env: key_for(provider), "OPENAI_API_KEY": "sk-o",
                                          "ANTHROPIC_API_KEY": "sk-a"},
                             on_retry=on_retry, retry_policy=RetryPolicy(max_retries=retries, base_delay=0.01))


async def collect(client, messages=None, tools=()) -> list[Any]:
    messages = messages or [{"role": "user", "content": "hi there"}]
    return [d async for d in client.stream(messages, list(tools))]


@pytest.mark.parametrize("provider", PRESETS)
def test_preset_url_key_and_default_model(provider):
    url, key_env, model = PRESETS[provider]
    resolved = resolve_llm(LLMConfig(provider=provider), env={key_env: "k-1", "OPENAI_API_KEY": "sk-other"})
    assert (resolved.base_url, resolved.api_key, resolved.model) == (url, "k-1", model)
    with pytest.raises(ConfigError, match=key_env):
        resolve_llm(LLMConfig(provider=provider), env={"OPENAI_API_KEY": "sk-other"})


@pytest.mark.parametrize("provider", PRESETS)
async def test_streamed_answer(fake_llm, provider):
    fake_llm.script(Text("hello world", chunks=3))
    client = make_client(fake_llm, provider)
    deltas = await collect(client)
    await client.aclose()
    assert [d.text for d in deltas if isinstance(d, TextDelta)] == ["hell", "o wo", "rld"]
    assert deltas[-1] == Finish("stop")
    req = fake_llm.last_request
    assert req["headers"]["authorization"] == f"Bearer {key_for(provider)}"
    assert req["json"]["model"] == PRESETS[provider][2] and req["json"]["stream"] is True


@pytest.mark.parametrize("provider", PRESETS)
async def test_tool_call_round_trip(fake_llm, provider):
    fake_llm.script(ToolCalls([("call_1", "get_weather", {"city": "Oslo"})]), Text("cold in Oslo"))
    client = make_client(fake_llm, provider)
    acc = ToolCallAccumulator()
    first = await collect(client, tools=[WEATHER])
    for d in first:
        if isinstance(d, ToolCallDelta):
            acc.add(d)
    [call] = acc.calls()
    assert (call.id, call.name, json.loads(call.arguments)) == ("call_1", "get_weather", {"city": "Oslo"})
    assert first[-1] == Finish("tool-calls")
    history = [{"role": "user", "content": "weather?"},
               {"role": "assistant", "content": None, "toolCalls": [call.to_message_dict()]},
               {"role": "tool", "toolCallId": "call_1", "name": "get_weather", "content": "-3C"}]
    second = await collect(client, messages=history, tools=[WEATHER])
    await client.aclose()
    assert "".join(d.text for d in second if isinstance(d, TextDelta)) == "cold in Oslo"
    assert fake_llm.last_request["json"]["messages"][-1] == {"role": "tool", "tool_call_id": "call_1",
                                                             "content": "-3C"}


@pytest.mark.parametrize("provider", PRESETS)
async def test_429_honours_retry_after(fake_llm, provider):
    fake_llm.script(Error(429, retry_after=0), Text("ok"))
    retries: list[tuple[int, float]] = []
    client = make_client(fake_llm, provider, on_retry=lambda n, delay, err: retries.append((n, delay)))
    deltas = await collect(client)
    await client.aclose()
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "ok"
    assert retries == [(1, 0.0)]


@pytest.mark.parametrize("provider", PRESETS)
async def test_500_names_provider_and_status_never_the_key(fake_llm, provider):
    fake_llm.script(Error(500, message=f"echoing {key_for(provider)}"), Error(500))
    client = make_client(fake_llm, provider, retries=1)
    with pytest.raises(LLMError) as info:
        await collect(client)
    await client.aclose()
    assert info.value.provider == provider and info.value.upstream_status == 500
    assert f"{provider} request failed" in info.value.message and "HTTP 500" in info.value.message
    assert key_for(provider) not in str(info.value)


# --- llm.reasoning on the wire -----------------------------------------------------------

async def test_openai_reasoning_effort(fake_llm):
    fake_llm.script(Text("a"), Text("b"))
    for variant, effort in (("high", "high"), ("off", "minimal")):
        client = make_client(fake_llm, "openai", reasoning={"variant": variant})
        await collect(client)
        await client.aclose()
        assert fake_llm.last_request["json"]["reasoning_effort"] == effort


async def test_compatible_servers_get_no_reasoning_field(fake_llm):
    fake_llm.script(Text("a"))
    client = make_client(fake_llm, "glm", reasoning={"variant": "high"})
    await collect(client)
    await client.aclose()
    assert "reasoning_effort" not in fake_llm.last_request["json"]


async def test_anthropic_thinking_budget(fake_llm):
    fake_llm.script(Text("a", reasoning="hmm"), Text("b"))
    client = make_client(fake_llm, "anthropic", reasoning={"variant": "enabled", "budgetTokens": 6000},
                         temperature=0.3, maxOutputTokens=2000)
    await collect(client)
    body = fake_llm.last_request["json"]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 6000}
    assert body["max_tokens"] > 6000 and "temperature" not in body  # as the API requires
    await client.aclose()
    client = make_client(fake_llm, "anthropic", reasoning={"variant": "off"})
    await collect(client)
    await client.aclose()
    assert "thinking" not in fake_llm.last_request["json"]
