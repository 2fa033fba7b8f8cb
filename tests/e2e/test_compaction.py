"""Long conversations over real HTTP with the scripted fake LLM, whose own window refuses a
request that is too long the way OpenAI does (400 `context_length_exceeded`): every request
fits, the summary is made once and reused, a tool call stays with its results, the user's
history keeps every message, and a provider's context-length error is recovered from."""

from __future__ import annotations

import contextlib
import json
from typing import Any, Iterator

import pytest

from switchyard.runtime.compaction import SUMMARY_INSTRUCTIONS, SUMMARY_PREFIX
from tests.support.fake_llm import FakeLLM, Text, ToolCalls, last_user_text, request_tokens
from tests.support.live_server import serve_agents
from tests.support.sse import sse_events

WINDOW = 2000
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike".split()


def _topic(i: int) -> str:
    """A user message of about 400 characters (100 tokens), numbered."""
    return f"turn {i}: " + " ".join(WORDS[(i + k) % len(WORDS)] for k in range(70))


def _is_summary_request(body: dict[str, Any]) -> bool:
    if body.get("system") is not None:        # Anthropic's Messages API
        return SUMMARY_INSTRUCTIONS in json.dumps(body["system"])
    first = (body.get("messages") or [{}])[0]
    return first.get("role") == "system" and first.get("content") == SUMMARY_INSTRUCTIONS


class Model:
    """The fake's answers: a summary for a summary request, a tool call for a user message
    that asks for one (then an answer once its result is back), else an answer of ~300 chars."""

    def __init__(self) -> None:
        self.summaries = 0

    def __call__(self, body: dict[str, Any]) -> Any:
        messages = body.get("messages") or []
        if _is_summary_request(body):
            self.summaries += 1
            return Text(f"SUMMARY-{self.summaries}: the user went through numbered turns about the alphabet.")
        text = last_user_text(body)
        if "use the tool" in text and messages[-1].get("role") == "user":
            n = text.split(":")[0]
            return ToolCalls([(f"call_{n.replace(' ', '_')}_{i}", "lookup", {"q": n}) for i in range(2)])
        return Text(f"answer to {text[:8]}: " + "x" * 300)


@contextlib.contextmanager
def fake_model(window: int | None) -> Iterator[tuple[FakeLLM, Model]]:
    model = Model()
    with FakeLLM(default=model) as fake:
        fake.context_window = window
        yield fake, model


def _agent(tmp_path: Any, fake: FakeLLM, provider: str = "openai-compatible", **extra: Any) -> dict[str, Any]:
    llm = {"provider": provider, "model": "fake-model",
           "baseURL": fake.anthropic_base_url if provider == "anthropic" else fake.base_url,
           "apiKey": "sk-test-0123456789abcdefgh", **extra.pop("llm", {})}
    return {"agentId": "long", "systemPrompt": "You are terse.", "llm": llm,
            "storage": {"database": {"type": "sqlite", "path": str(tmp_path / "long.db")}}, **extra}


def _chat_requests(fake: FakeLLM) -> list[dict[str, Any]]:
    return [r for r in fake.requests if not _is_summary_request(r["json"])]


def _assert_tool_pairs_whole(body: dict[str, Any]) -> None:
    """Every tool result follows the assistant message that called it, and every call has its result."""
    messages = body["messages"]
    for i, message in enumerate(messages):
        if message.get("role") == "assistant" and message.get("tool_calls"):
            ids = [c["id"] for c in message["tool_calls"]]
            results = [m.get("tool_call_id") for m in messages[i + 1:i + 1 + len(ids)]]
            assert results == ids, f"tool calls {ids} not followed by their results: {results}"
        if message.get("role") == "tool":
            j = i
            while messages[j - 1].get("role") == "tool":
                j -= 1
            caller = messages[j - 1]
            assert j > 0 and caller.get("role") == "assistant", "a tool result without its call"
            assert message["tool_call_id"] in [c["id"] for c in caller["tool_calls"]]


def _send(c: Any, content: str, session_id: str = "long") -> dict[str, Any]:
    response = c.post("/api/message-sync", json={"content": content, "sessionId": session_id})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_long_session_fits_the_window_with_one_summary_reused(tmp_path):
    turns = 24
    with fake_model(WINDOW) as (fake, model), serve_agents(
            _agent(tmp_path, fake, llm={"maxInputTokens": WINDOW})) as live, live.client() as c:
        for i in range(turns - 1):
            _send(c, _topic(i) + (" please use the tool" if i % 3 == 1 else ""))
        # The last turn streams: its events include the compaction, with before/after counts.
        before = model.summaries
        big = "last turn: " + "yankee zulu " * 150            # ~1800 chars: compaction is needed now
        with c.stream("POST", "/api/message-stream", json={"content": big, "sessionId": "long"}) as r:
            events = sse_events(r)
        compacted = [data for name, data in events if name == "context:compacted"]
        assert [n for n, _ in events][-1] == "run:complete"
        assert len(compacted) == 1 and model.summaries == before + 1
        event = compacted[0]
        assert event["strategy"] == "reactive-overflow" and event["reason"] == "overflow"
        assert event["originalTokens"] > WINDOW * 0.8 > event["compactedTokens"]
        assert event["compactedMessages"] < event["originalMessages"]

        history = c.get("/api/sessions/long/history").json()["history"]

    # Every request fitted the provider's window: none was refused.
    assert all(r["tokens"] <= WINDOW for r in fake.requests), [r["tokens"] for r in fake.requests]
    chats = _chat_requests(fake)
    for request in chats:
        _assert_tool_pairs_whole(request["json"])
    # Several summaries over the conversation, each made once: far fewer than the turns that
    # followed the first one, and every later request starts from the newest summary.
    assert 2 <= model.summaries <= turns // 3
    summaries_seen = []
    for request in chats:
        first = request["json"]["messages"][1]   # after the agent's system prompt
        if first.get("role") == "system" and first["content"].startswith(SUMMARY_PREFIX):
            text = first["content"][len(SUMMARY_PREFIX):].split(":")[0]
            if not summaries_seen or summaries_seen[-1] != text:
                summaries_seen.append(text)
    assert summaries_seen == [f"SUMMARY-{n}" for n in range(1, model.summaries + 1)]
    reused = sum(1 for r in chats if r["json"]["messages"][1]["content"].startswith(SUMMARY_PREFIX))
    assert reused > model.summaries * 2

    # The user's history keeps every message, in order, and shows each summary with its range.
    users = [m["content"] for m in history if m["role"] == "user"]
    assert users == [_topic(i) + (" please use the tool" if i % 3 == 1 else "") for i in range(turns - 1)] + [big]
    stored_summaries = [m for m in history if m["role"] == "system"]
    assert len(stored_summaries) == model.summaries
    for summary in stored_summaries:
        info = summary["metadata"]["compaction"]
        assert info["strategy"] == "reactive-overflow" and info["summarizedMessages"] >= 2
        ids = [m["id"] for m in history]
        assert ids.index(info["firstMessageId"]) <= ids.index(info["lastMessageId"]) < ids.index(summary["id"])
    assert sum(1 for m in history if m["role"] == "tool") == 2 * len(range(1, turns - 1, 3))


def test_the_session_continues_after_a_restart_from_its_summary(tmp_path):
    with fake_model(WINDOW) as (fake, model):
        config = _agent(tmp_path, fake, llm={"maxInputTokens": WINDOW})
        with serve_agents(config) as live, live.client() as c:
            for i in range(14):
                _send(c, _topic(i))
        assert model.summaries >= 1
        made = model.summaries
        fake.requests.clear()
        with serve_agents(config) as live, live.client() as c:   # no kept history: read from the store
            _send(c, "and now?")
        assert model.summaries == made                           # the stored summary is reused
        (request,) = fake.requests
        messages = request["json"]["messages"]
        assert messages[1]["content"].startswith(SUMMARY_PREFIX + f"SUMMARY-{made}")
        assert messages[-1]["content"] == "and now?" and request["tokens"] <= WINDOW


@pytest.mark.parametrize("provider", ["openai-compatible", "anthropic"])
def test_a_providers_context_length_error_is_recovered_from(tmp_path, provider):
    # The catalog does not know "fake-model" and no maxInputTokens is set: only the provider
    # can say the request is too long (OpenAI: 400 context_length_exceeded; Anthropic: 400
    # "prompt is too long").
    with fake_model(1500) as (fake, model), serve_agents(_agent(tmp_path, fake, provider)) as live, \
            live.client() as c:
        answers = [_send(c, _topic(i))["response"] for i in range(16)]
        with c.stream("POST", "/api/message-stream", json={"content": "one more " * 100, "sessionId": "long"}) as r:
            events = sse_events(r)
        history = c.get("/api/sessions/long/history").json()["history"]
    assert all(a.startswith("answer to") for a in answers)
    refused = [r for r in fake.requests if r["tokens"] > 1500]
    assert refused, "the conversation never outgrew the provider's window"
    assert model.summaries >= 1
    # Each refused request was followed by a summary and a retry that fitted.
    for refusal in refused:
        after = fake.requests[fake.requests.index(refusal) + 1:]
        assert _is_summary_request(after[0]["json"]) and after[1]["tokens"] <= 1500
    assert [n for n, _ in events][-1] == "run:complete"
    reasons = [d["reason"] for n, d in events if n == "context:compacted"]
    assert "llm:error" not in [n for n, _ in events] and set(reasons) <= {"provider-error"}
    assert [m["content"] for m in history if m["role"] == "user"][:16] == [_topic(i) for i in range(16)]


def test_noop_compaction_leaves_the_oldest_turns_out_and_stores_nothing(tmp_path):
    with fake_model(WINDOW) as (fake, model), serve_agents(
            _agent(tmp_path, fake, llm={"maxInputTokens": WINDOW}, compaction={"type": "noop"})) as live, \
            live.client() as c:
        for i in range(20):
            _send(c, _topic(i) + (" please use the tool" if i % 4 == 2 else ""))
        history = c.get("/api/sessions/long/history").json()["history"]
    assert model.summaries == 0
    assert all(r["tokens"] <= WINDOW for r in fake.requests)
    dropped = [r for r in fake.requests if "earlier messages of this conversation are left out"
               in str(r["json"]["messages"][1].get("content"))]
    assert dropped and dropped[-1]["json"]["messages"][-1]["content"] == _topic(19)
    for request in fake.requests:
        _assert_tool_pairs_whole(request["json"])
    assert [m["content"] for m in history if m["role"] == "user"] == [
        _topic(i) + (" please use the tool" if i % 4 == 2 else "") for i in range(20)]
    assert not [m for m in history if m["role"] == "system"]


@pytest.mark.parametrize("provider", ["openai-compatible", "anthropic"])
def test_summaries_go_to_the_configured_cheaper_model(tmp_path, provider):
    """`compaction.llm` names the model that writes the summaries: the same provider with
    another model, or another provider altogether (with its own key and base URL)."""
    with fake_model(WINDOW) as (fake, model):
        summary_llm: dict[str, Any] = {"model": "cheap-model"}
        if provider == "anthropic":
            summary_llm.update(provider="anthropic", baseURL=fake.anthropic_base_url,
                               apiKey="sk-ant-test-0123456789abcdef")
        config = _agent(tmp_path, fake, llm={"maxInputTokens": WINDOW}, compaction={"llm": summary_llm})
        with serve_agents(config) as live, live.client() as c:
            for i in range(16):
                _send(c, _topic(i))
            history = c.get("/api/sessions/long/history").json()["history"]
    summaries = [r for r in fake.requests if _is_summary_request(r["json"])]
    chats = _chat_requests(fake)
    assert model.summaries >= 1 and len(summaries) == model.summaries
    assert {r["json"]["model"] for r in summaries} == {"cheap-model"}
    assert {r["json"]["model"] for r in chats} == {"fake-model"}
    wire = "/v1/messages" if provider == "anthropic" else "/chat/completions"
    assert all(r["path"].endswith(wire) for r in summaries)
    if provider == "anthropic":     # its own key, not the agent's
        assert all("sk-ant-test-0123456789abcdef" in r["headers"].get("x-api-key", "") + r["headers"].get(
            "authorization", "") for r in summaries)
    assert all(r["path"].endswith("/chat/completions") for r in chats)
    # The conversation went on from the cheap model's summary.
    assert any(r["json"]["messages"][1]["content"].startswith(SUMMARY_PREFIX + "SUMMARY-1") for r in chats)
    stored = [m for m in history if m["role"] == "system"]
    assert [m["metadata"]["compaction"]["model"] for m in stored] == ["cheap-model"] * len(stored)


def test_the_system_prompt_memories_and_tool_schemas_count_against_the_window(tmp_path):
    """What is not history takes its share of the window: a long system prompt, the owner's
    memories in it, and the tool schemas; the history gets what is left, and every request fits."""
    window = 4000
    with fake_model(window) as (fake, model):
        config = _agent(tmp_path, fake, llm={"maxInputTokens": window},
                        systemPrompt="You are terse. " + "Follow the house style guide closely. " * 60,
                        memories={"enabled": True},
                        tools=[{"type": "builtin-tools", "enabledTools": ["http_request", "sleep"]}])
        with serve_agents(config) as live, live.client() as c:
            assert c.post("/api/memory", json={"content": "the user prefers answers about " + " ".join(WORDS)}
                          ).status_code in (200, 201)
            for i in range(24):
                _send(c, _topic(i))
    chats = _chat_requests(fake)
    first = chats[0]["json"]
    fixed = request_tokens({"messages": first["messages"][:1], "tools": first.get("tools")})
    assert first.get("tools") and "prefers answers about" in first["messages"][0]["content"]
    assert fixed > window // 5, fixed               # a real share of the window is not history
    assert model.summaries >= 1
    assert all(r["tokens"] <= window for r in fake.requests), [r["tokens"] for r in fake.requests]
