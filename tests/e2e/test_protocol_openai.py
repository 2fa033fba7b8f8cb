"""The OpenAI-compatible API end to end with the official `openai` SDK: plain and streamed
completions, stateless and session modes, models, and OpenAI-shaped errors."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import openai
import pytest

from switchyard.config.loader import parse_agent
from switchyard.errors import LLMError
from switchyard.llm.base import Finish, TextDelta, Usage, content_to_text
from switchyard.llm.function import FunctionModel
from switchyard.runtime.agent import Agent
from switchyard.runtime.host import AgentHost
from switchyard.server.app import create_app
from tests.support.live_server import LiveServer


def ScriptedLLM(tag: str) -> FunctionModel:  # noqa: N802
    """Answers "<tag>: <text> (<n> messages)"; "SLOW ..." streams slowly, "FAIL ..." raises.
    The model's `steps` keep every conversation it was given."""

    async def reply(messages: list[dict[str, Any]], tools: Any, info: Any):
        prompt = content_to_text(messages[-1]["content"])
        if prompt.startswith("FAIL"):
            raise LLMError("scripted failure", provider="scripted")
        slow = prompt.startswith("SLOW")
        text = f"{tag}: {prompt} ({len(messages)} messages)"
        for i, word in enumerate(text.split(" ")):
            yield TextDelta(("" if i == 0 else " ") + word)
            if slow:
                await asyncio.sleep(0.2)
        yield Usage(input_tokens=7, output_tokens=len(text.split()), reasoning_tokens=0)
        yield Finish("stop")

    return FunctionModel(reply, provider="scripted", model="scripted-1")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("openai")
    llms = {"main-agent": ScriptedLLM("Main"), "other-agent": ScriptedLLM("Other")}

    def agent(agent_id: str) -> Agent:
        loaded = parse_agent({"agentId": agent_id, "systemPrompt": "You are scripted.",
                              "storage": {"database": {"type": "sqlite", "path": str(tmp / f"{agent_id}.db")}}})
        return Agent(loaded, llm_client=llms[agent_id])

    server = LiveServer(lambda: create_app(AgentHost([agent("main-agent"), agent("other-agent")]))).start()
    server.llms = llms  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.fixture
def client(live):
    with openai.OpenAI(base_url=f"{live.url}/v1", api_key="sk-unused", max_retries=0, timeout=30) as c:
        yield c


def session_ids(live) -> list[str]:
    with live.client() as c:
        return [s["id"] for s in c.get("/api/sessions", params={"agentId": "main-agent"}).json()["sessions"]]


def test_models_list_the_hosted_agents(client):
    models = client.models.list()
    # `auto` (the router) is a model too: chat completions accept it, so the list names it.
    assert [m.id for m in models.data] == ["main-agent", "other-agent", "auto"]
    assert all(m.object == "model" and m.owned_by == "switchyard" for m in models.data)
    assert client.models.retrieve("other-agent").id == "other-agent"
    assert client.models.retrieve("auto").id == "auto"
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("nobody")
    assert info.value.code == "model_not_found"


def test_stateless_completion_carries_the_whole_conversation(live, client):
    before = set(session_ids(live))
    reply = client.chat.completions.create(model="main-agent", messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "my name is Bob"},
        {"role": "assistant", "content": "Hi Bob"},
        {"role": "user", "content": [{"type": "text", "text": "what is my name?"}]},
    ])
    assert reply.object == "chat.completion" and reply.model == "main-agent" and reply.id.startswith("chatcmpl-")
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and choice.finish_reason == "stop"
    assert choice.message.content == "Main: what is my name? (4 messages)"
    assert [m["role"] for m in live.llms["main-agent"].steps[-1].messages] == ["system", "user", "assistant", "user"]
    assert reply.usage.prompt_tokens == 7 and reply.usage.completion_tokens == 7
    assert reply.usage.total_tokens == 14
    # The throw-away session is gone.
    assert set(session_ids(live)) == before


def test_model_names_the_agent(client):
    reply = client.chat.completions.create(model="other-agent", messages=[{"role": "user", "content": "hey"}])
    assert reply.choices[0].message.content == "Other: hey (1 messages)"


def test_session_id_continues_a_stored_session(live, client):
    first = client.chat.completions.create(model="main-agent", user="conv-1",
                                           messages=[{"role": "user", "content": "one"}])
    assert first.choices[0].message.content == "Main: one (1 messages)"
    # Only the last message counts in session mode: the agent keeps the history.
    raw = client.chat.completions.with_raw_response.create(
        model="main-agent", messages=[{"role": "user", "content": "ignored"}, {"role": "user", "content": "two"}],
        extra_headers={"X-Session-Id": "conv-1"})
    assert raw.headers["x-session-id"] == "conv-1"
    assert raw.parse().choices[0].message.content == "Main: two (3 messages)"
    assert "conv-1" in session_ids(live)
    with live.client() as c:
        history = c.get("/api/sessions/conv-1/history", params={"agentId": "main-agent"}).json()["history"]
    assert [m["content"] for m in history] == ["one", "Main: one (1 messages)", "two", "Main: two (3 messages)"]


def test_streaming_sends_chunks_done_and_usage(live, client):
    before = set(session_ids(live))
    stream = client.chat.completions.create(model="main-agent", stream=True,
                                            stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": "stream this please"}])
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" and c.model == "main-agent" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Main: stream this please (1 messages)"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 3
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 7 + 6
    assert all(c.usage is None for c in chunks[:-1])
    assert set(session_ids(live)) == before

    # Without include_usage there is no usage chunk; the wire ends with [DONE].
    with live.client() as c, c.stream("POST", "/v1/chat/completions", json={
            "model": "main-agent", "stream": True, "messages": [{"role": "user", "content": "raw"}]}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]" and all(line.startswith("data: ") for line in lines)
    assert '"usage"' not in "".join(lines)


def test_errors_have_openai_shape_and_status(live, client):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="nobody", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 404 and info.value.code == "model_not_found"
    assert info.value.body["param"] == "model" and info.value.body["type"] == "invalid_request_error"

    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="main-agent", messages=[{"role": "assistant", "content": "hi"}])
    assert info.value.body["type"] == "invalid_request_error" and info.value.body["param"] == "messages[0].role"

    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="main-agent", messages=[])
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="main-agent", messages=[{"role": "user", "content": "x"}], user="bad id!")
    assert info.value.body["param"] == "user"

    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="main-agent", messages=[{"role": "user", "content": "FAIL now"}])
    assert info.value.status_code == 502 and "scripted failure" in info.value.message
    assert info.value.body["type"] == "api_error"

    with pytest.raises(openai.APIError) as info:
        for _ in client.chat.completions.create(model="main-agent", stream=True,
                                                messages=[{"role": "user", "content": "FAIL streaming"}]):
            pass
    assert "scripted failure" in str(info.value)

    with live.client() as c:
        r = c.post("/v1/chat/completions", content=b"{oops", headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert r.json()["error"]["type"] == "invalid_request_error" and set(r.json()["error"]) == {
            "message", "type", "param", "code"}
        r = c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 400 and r.json()["error"]["param"] == "model"


def test_busy_session_is_a_409(live, client):
    result: dict[str, Any] = {}

    def slow() -> None:
        result["reply"] = client.chat.completions.create(
            model="main-agent", user="busy-1", messages=[{"role": "user", "content": "SLOW a b c d e f"}])

    thread = threading.Thread(target=slow)
    thread.start()
    deadline = time.monotonic() + 5
    while "busy-1" not in session_ids(live) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    with pytest.raises(openai.ConflictError) as info:
        client.chat.completions.create(model="main-agent", user="busy-1",
                                       messages=[{"role": "user", "content": "me too"}])
    assert info.value.code == "session_busy"
    thread.join(10)
    assert result["reply"].choices[0].message.content.startswith("Main: SLOW a b c d e f")


def test_auto_model_goes_through_the_router_hook(live, client, monkeypatch):
    import sys
    import types

    calls = []

    async def route_for_request(request, host, content, session_id):
        calls.append((content, session_id))
        return host.agents["other-agent"]

    module = types.ModuleType("switchyard.server.routing_glue")
    module.route_for_request = route_for_request  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "switchyard.server.routing_glue", module)
    reply = client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "route me"}])
    assert reply.choices[0].message.content == "Other: route me (1 messages)"
    assert calls == [("route me", None)]


def test_authentication_errors_reach_the_sdk(tmp_path):
    key = "openai-protocol-test-key-0123456789"
    env = {"SWITCHYARD_ENV": "production", "SWITCHYARD_API_KEY": key, "SWITCHYARD_HOME": str(tmp_path / "home")}

    def factory():
        loaded = parse_agent({"agentId": "secure", "storage": {"database": {
            "type": "sqlite", "path": str(tmp_path / "s.db")}}})
        return create_app(AgentHost([Agent(loaded, llm_client=ScriptedLLM("Sec"))]), env=env)

    with LiveServer(factory) as server:
        with openai.OpenAI(base_url=f"{server.url}/v1", api_key="wrong-key", max_retries=0) as bad, \
                pytest.raises(openai.AuthenticationError):
            bad.chat.completions.create(model="secure", messages=[{"role": "user", "content": "hi"}])
        with openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0) as good:
            reply = good.chat.completions.create(model="secure", messages=[{"role": "user", "content": "hi"}])
            assert reply.choices[0].message.content == "Sec: hi (1 messages)"
            assert [m.id for m in good.models.list().data] == ["secure"]
