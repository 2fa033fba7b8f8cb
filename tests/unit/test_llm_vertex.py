"""The `vertex` provider (google-genai SDK with vertexai=True, unpatched) against the loopback
Gemini fake: Application Default Credentials from a real credentials file (a service account
whose token endpoint is the fake), the project/location path, a streamed answer, a tool call
round trip, a 429 honouring Retry-After and a 500; and express mode with an API key."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from switchyard.config.schema import LLMConfig
from switchyard.errors import ConfigError, LLMError
from switchyard.llm.base import Finish, TextDelta, ToolCallAccumulator, ToolCallDelta, ToolSpec
from switchyard.llm.factory import create_llm_client, resolve_llm
from switchyard.llm.retry import RetryPolicy
from tests.support.fake_gemini import FakeGemini
from tests.support.fake_llm import Error, Text, ToolCalls

WEATHER = ToolSpec("get_weather", "Weather for a city",
                   {"type": "object", "properties": {"city": {"type": "string"}}})
ENV = {"GOOGLE_VERTEX_PROJECT": "my-project", "GOOGLE_VERTEX_LOCATION": "europe-west4"}
MODEL_PATH = ("/v1beta1/projects/my-project/locations/europe-west4/publishers/google/models/"
              "gemini-2.5-flash:streamGenerateContent")


@pytest.fixture(scope="module")
def vertex_server() -> Iterator[FakeGemini]:
    server = FakeGemini().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def vertex(vertex_server: FakeGemini, tmp_path, monkeypatch) -> Iterator[FakeGemini]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    creds = tmp_path / "adc.json"
    creds.write_text(json.dumps({
        "type": "service_account", "project_id": "my-project", "private_key_id": "k1",
        "private_key": pem.decode(), "client_email": "agent@my-project.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": f"{vertex_server.root_url}/token"}))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(creds))
    vertex_server.reset()
    yield vertex_server
    assert vertex_server.pending == 0, "scripted steps left unrequested"


def make_client(fake: FakeGemini, retries: int = 2, on_retry: Any = None, env=ENV, **cfg: Any):
    config = LLMConfig(provider="vertex", baseURL=fake.root_url, maxRetries=retries, **cfg)
    return create_llm_client(config, env=env, on_retry=on_retry,
                             retry_policy=RetryPolicy(max_retries=retries, base_delay=0.01))


async def collect(client, messages=None, tools=()) -> list[Any]:
    messages = messages or [{"role": "user", "content": "hi there"}]
    return [d async for d in client.stream(messages, list(tools))]


def test_vertex_needs_a_project_or_a_key():
    with pytest.raises(ConfigError, match="GOOGLE_VERTEX_PROJECT"):
        resolve_llm(LLMConfig(provider="vertex"), env={})
    resolved = resolve_llm(LLMConfig(provider="vertex"), env=ENV)
    assert resolved.base_url is None and resolved.model == "gemini-2.5-flash"


async def test_streamed_answer_with_application_default_credentials(vertex):
    vertex.script(Text("hello from vertex", chunks=2))
    client = make_client(vertex)
    deltas = await collect(client)
    await client.aclose()
    assert [d.text for d in deltas if isinstance(d, TextDelta)] == ["hello fro", "m vertex"]
    assert deltas[-1] == Finish("stop")
    req = vertex.last_request
    assert req["path"] == MODEL_PATH and req["query"] == "alt=sse"
    assert req["headers"]["authorization"] == "Bearer ya29.fake-access-token"
    assert vertex.tokens_issued >= 1


async def test_tool_call_round_trip(vertex):
    vertex.script(ToolCalls([("x", "get_weather", {"city": "Rome"})]), Text("warm"))
    client = make_client(vertex)
    acc = ToolCallAccumulator()
    for d in await collect(client, tools=[WEATHER]):
        if isinstance(d, ToolCallDelta):
            acc.add(d)
    [call] = acc.calls()
    history = [{"role": "user", "content": "weather?"},
               {"role": "assistant", "content": None, "toolCalls": [call.to_message_dict()]},
               {"role": "tool", "toolCallId": call.id, "content": "25C"}]
    second = await collect(client, messages=history, tools=[WEATHER])
    await client.aclose()
    assert "".join(d.text for d in second if isinstance(d, TextDelta)) == "warm"
    parts = vertex.last_request["json"]["contents"][2]["parts"]
    assert parts == [{"functionResponse": {"name": "get_weather", "response": {"output": "25C"}}}]


async def test_429_with_retry_after_then_500(vertex):
    vertex.script(Error(429, retry_after=0), Text("ok"), Error(500), Error(500))
    retries: list[float] = []
    client = make_client(vertex, retries=1, on_retry=lambda n, delay, err: retries.append(delay))
    deltas = await collect(client)
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "ok" and retries == [0.0]
    with pytest.raises(LLMError) as info:
        await collect(client)
    await client.aclose()
    assert info.value.provider == "vertex" and info.value.upstream_status == 500
    assert "vertex request failed" in info.value.message


async def test_express_mode_with_an_api_key(vertex):
    key = "AQ.vertex-express-key-0123456789"
    vertex.script(Text("express"))
    client = make_client(vertex, env={}, apiKey=key)
    deltas = await collect(client)
    await client.aclose()
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "express"
    req = vertex.last_request
    assert req["path"] == "/v1beta1/publishers/google/models/gemini-2.5-flash:streamGenerateContent"
    assert req["headers"]["x-goog-api-key"] == key
