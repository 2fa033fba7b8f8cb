"""The `google` provider (the official google-genai SDK, unpatched) against a loopback fake that
speaks the Gemini REST protocol (streamGenerateContent over SSE): streaming, reasoning, a tool
call round trip, usage, finish reasons, retries on 429 with Retry-After, 500s, and errors that
never contain the key."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from switchyard.config.schema import LLMConfig
from switchyard.errors import LLMError
from switchyard.llm.base import Finish, ReasoningDelta, TextDelta, ToolCallAccumulator, ToolCallDelta, ToolSpec, Usage
from switchyard.llm.factory import create_llm_client
from switchyard.llm.retry import RetryPolicy
from tests.support.fake_gemini import FakeGemini
from tests.support.fake_llm import Error, Text, ToolCalls

KEY = "AIzaSyFakeGoogleKey0123456789abcdefghij"
WEATHER = ToolSpec("get_weather", "Weather for a city",
                   {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})


@pytest.fixture(scope="module")
def gemini_server() -> Iterator[FakeGemini]:
    server = FakeGemini().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def gemini(gemini_server: FakeGemini) -> Iterator[FakeGemini]:
    gemini_server.reset()
    yield gemini_server
    assert gemini_server.pending == 0, "scripted steps left unrequested"


def field(obj: dict[str, Any], camel: str) -> Any:
    """A field of a request body in either spelling: the SDK writes some nested objects' keys
    in snake_case, which Google's JSON parser accepts as well as camelCase."""
    snake = "".join("_" + c.lower() if c.isupper() else c for c in camel)
    return obj[camel] if camel in obj else obj[snake]


def make_client(fake: FakeGemini, retries: int = 2, on_retry: Any = None, **cfg: Any):
    config = LLMConfig(provider="google", model="gemini-2.5-flash", apiKey=KEY, baseURL=fake.root_url,
                       maxRetries=retries, **cfg)
    return create_llm_client(config, env={}, on_retry=on_retry,
                             retry_policy=RetryPolicy(max_retries=retries, base_delay=0.01))


async def collect(client, messages=None, tools=(), system=None) -> list[Any]:
    messages = messages or [{"role": "user", "content": "hi there"}]
    return [d async for d in client.stream(messages, list(tools), system=system)]


async def test_streams_text_reasoning_usage_and_finish(gemini):
    gemini.script(Text("hello world", chunks=3, usage=(11, 2), reasoning="let me think"))
    client = make_client(gemini, reasoning={"variant": "low"}, temperature=0.2, maxOutputTokens=99)
    deltas = await collect(client, system="Be brief.")
    await client.aclose()

    assert [d.text for d in deltas if isinstance(d, TextDelta)] == ["hell", "o wo", "rld"]
    assert [d.text for d in deltas if isinstance(d, ReasoningDelta)] == ["let me think"]
    usage = [d for d in deltas if isinstance(d, Usage)]
    assert usage == [Usage(input_tokens=11, output_tokens=5, reasoning_tokens=3)]
    assert deltas[-1] == Finish("stop")

    req = gemini.last_request
    assert req["path"] == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert req["query"] == "alt=sse"
    assert req["headers"]["x-goog-api-key"] == KEY
    body = req["json"]
    assert body["contents"] == [{"role": "user", "parts": [{"text": "hi there"}]}]
    assert body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    gen = body["generationConfig"]
    assert gen["temperature"] == 0.2 and gen["maxOutputTokens"] == 99
    thinking = gen["thinkingConfig"]
    assert field(thinking, "includeThoughts") is True and field(thinking, "thinkingBudget") == 1024
    assert "tools" not in body


async def test_tool_call_round_trip(gemini):
    gemini.script(ToolCalls([("ignored", "get_weather", {"city": "Paris"})]), Text("sunny in Paris"))
    client = make_client(gemini)
    first = await collect(client, tools=[WEATHER])
    acc = ToolCallAccumulator()
    for d in first:
        if isinstance(d, ToolCallDelta):
            acc.add(d)
    [call] = acc.calls()
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"} and call.id
    assert first[-1] == Finish("tool-calls")
    tools_sent = gemini.last_request["json"]["tools"]
    assert tools_sent[0]["functionDeclarations"][0]["name"] == "get_weather"
    assert field(tools_sent[0]["functionDeclarations"][0], "parametersJsonSchema") == WEATHER.parameters

    history = [{"role": "user", "content": "weather in Paris?"},
               {"role": "assistant", "content": None, "toolCalls": [call.to_message_dict()]},
               {"role": "tool", "toolCallId": call.id, "name": "get_weather", "content": "sunny, 21C"}]
    second = await collect(client, messages=history, tools=[WEATHER])
    await client.aclose()
    assert "".join(d.text for d in second if isinstance(d, TextDelta)) == "sunny in Paris"
    contents = gemini.last_request["json"]["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    model_part = contents[1]["parts"][0]
    assert model_part["functionCall"] == {"name": "get_weather", "args": {"city": "Paris"}}
    assert model_part["thoughtSignature"] == "c2lnLW9mLQ=="  # sent back as Gemini requires
    assert contents[2]["parts"] == [{"functionResponse": {"name": "get_weather",
                                                          "response": {"output": "sunny, 21C"}}}]


async def test_429_is_retried_after_retry_after(gemini):
    gemini.script(Error(429, retry_after=0, message="quota exceeded"), Text("ok now"))
    retries: list[tuple[int, float, LLMError]] = []
    client = make_client(gemini, on_retry=lambda n, delay, err: retries.append((n, delay, err)))
    deltas = await collect(client)
    await client.aclose()
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "ok now"
    assert len(retries) == 1 and retries[0][1] == 0  # Retry-After: 0 honoured, not the backoff
    assert retries[0][2].upstream_status == 429 and "quota exceeded" in retries[0][2].message


async def test_500_fails_after_retries_naming_provider_and_status_never_the_key(gemini):
    gemini.script(*[Error(500, message=f"boom with key {KEY}") for _ in range(2)])
    client = make_client(gemini, retries=1)
    with pytest.raises(LLMError) as info:
        await collect(client)
    await client.aclose()
    err = info.value
    assert err.provider == "google" and err.upstream_status == 500
    assert "google request failed" in err.message and "HTTP 500" in err.message
    assert KEY not in err.message and KEY not in str(err)
    assert len(gemini.requests) == 2


async def test_400_is_not_retried(gemini):
    gemini.script(Error(400, message="bad request"))
    client = make_client(gemini)
    with pytest.raises(LLMError) as info:
        await collect(client)
    await client.aclose()
    assert info.value.upstream_status == 400 and len(gemini.requests) == 1


async def test_images_are_sent_inline(gemini):
    gemini.script(Text("a red pixel"))
    client = make_client(gemini)
    image = "iVBORw0KGgo="
    await collect(client, messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is this?"}, {"type": "image", "image": image, "mimeType": "image/png"}]}])
    await client.aclose()
    parts = gemini.last_request["json"]["contents"][0]["parts"]
    assert parts[0] == {"text": "what is this?"}
    inline = field(parts[1], "inlineData")
    assert field(inline, "mimeType") == "image/png" and inline["data"] == image


async def test_safety_block_maps_to_content_filter(gemini):
    gemini.script(Text("partial", chunks=1, finish="content-filter"))
    client = make_client(gemini)
    deltas = await collect(client)
    await client.aclose()
    assert deltas[-1] == Finish("content-filter")
