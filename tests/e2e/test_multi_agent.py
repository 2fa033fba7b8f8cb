"""Several agents behind one server, and `agentId: "auto"` through the router, over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.live_server import serve_agents
from tests.support.sse import sse_events

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "agents"


def example(name: str, tmp_path) -> dict:
    config = yaml.safe_load((EXAMPLES / f"{name}.yml").read_text())
    config["storage"] = {"database": {"type": "sqlite", "path": str(tmp_path / f"{name}.db")}}
    return config


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("SWITCHYARD_ROUTER_SEMANTIC", "off")
    monkeypatch.setenv("SWITCHYARD_ROUTER_FALLBACK", "general")
    configs = [example(n, tmp_path) for n in ("general", "billing", "travel", "cooking", "devops")]
    with serve_agents(*configs, default_agent="general") as live:
        yield live


def test_agents_are_listed_with_the_default(server):
    with server.client() as c:
        body = c.get("/api/agents").json()
        assert {a["id"] for a in body["agents"]} == {"general", "billing", "travel", "cooking", "devops"}
        billing = next(a for a in body["agents"] if a["id"] == "billing")
        assert billing["name"] == "Billing Assistant" and "Invoices" in billing["description"]
        assert body["current"]["id"] == "general"
        assert c.get("/api/agents/current").json() == {"id": "general", "name": "General Assistant"}


def test_named_agents_keep_separate_sessions(server):
    with server.client() as c:
        a = c.post("/api/message-sync", json={"content": "hi billing", "sessionId": "s", "agentId": "billing"})
        b = c.post("/api/message-sync", json={"content": "hi travel", "sessionId": "s", "agentId": "travel"})
        assert a.json()["agentId"] == "billing" and b.json()["agentId"] == "travel"
        h_billing = c.get("/api/sessions/s/history", params={"agentId": "billing"}).json()["history"]
        h_travel = c.get("/api/sessions/s/history", params={"agentId": "travel"}).json()["history"]
        assert [m["content"] for m in h_billing] == ["hi billing", "Echo: hi billing"]
        assert [m["content"] for m in h_travel] == ["hi travel", "Echo: hi travel"]
        # Without an agentId the default agent answers, as with a single agent.
        assert c.post("/api/message-sync", json={"content": "plain"}).json()["agentId"] == "general"
        r = c.post("/api/message-sync", json={"content": "x", "agentId": "nobody"})
        assert r.status_code == 404 and "nobody" in r.json()["message"]
        assert c.get("/api/sessions", params={"agentId": "nobody"}).status_code == 404


def test_route_explains_without_running(server):
    with server.client() as c:
        decision = c.post("/api/route", json={"content": "I was charged twice, I need a refund on my invoice"}).json()
        assert decision["agentId"] == "billing"
        assert decision["reason"] and decision["ranked"][0]["agentId"] == "billing"
        assert len(decision["ranked"]) == 5 and decision["ranked"][0]["score"] >= decision["ranked"][1]["score"]
        assert c.get("/api/sessions").json()["sessions"] == []  # nothing ran


def test_auto_routes_sync_and_stream_and_says_why(server):
    with server.client() as c:
        r = c.post("/api/message-sync", json={"content": "Book me a flight to Lisbon and a hotel",
                                              "agentId": "auto", "sessionId": "trip"})
        body = r.json()
        assert body["agentId"] == "travel" and body["routing"]["agentId"] == "travel"
        assert body["routing"]["reason"] and body["response"] == "Echo: Book me a flight to Lisbon and a hotel"

        with c.stream("POST", "/api/message-stream", json={"content": "My kubernetes deployment keeps crashing",
                                                            "agentId": "auto", "sessionId": "ops"}) as stream:
            events = sse_events(stream)
        assert events[0][0] == "routing:decision" and events[0][1]["agentId"] == "devops"
        assert events[-1][0] == "run:complete"


def test_auto_is_sticky_and_falls_back(server):
    with server.client() as c:
        first = c.post("/api/message-sync", json={"content": "Give me a recipe for lasagna",
                                                  "agentId": "auto", "sessionId": "cook"}).json()
        assert first["agentId"] == "cooking"
        # A vague follow-up stays with the session's agent.
        follow = c.post("/api/message-sync", json={"content": "and how long should it rest?",
                                                   "agentId": "auto", "sessionId": "cook"}).json()
        assert follow["agentId"] == "cooking" and follow["routing"]["sticky"] is True
        # Something no agent covers goes to the fallback.
        other = c.post("/api/message-sync", json={"content": "zxqv blorp",
                                                  "agentId": "auto", "sessionId": "odd"}).json()
        assert other["agentId"] == "general" and other["routing"]["fallback"] is True


def test_close_call_asks_the_default_agents_model_over_http(tmp_path, monkeypatch, fake_llm):
    """The router's LLM is the default agent's model (here the scripted fake LLM over real
    HTTP): two agents too close to call are settled by it, and the answer says so."""
    from tests.support.fake_llm import Text
    monkeypatch.setenv("SWITCHYARD_ROUTER_SEMANTIC", "off")
    monkeypatch.setenv("SWITCHYARD_ROUTER_FALLBACK", "general")
    monkeypatch.setenv("SWITCHYARD_ROUTER_LLM_MARGIN", "0.2")

    def twin(agent_id: str, description: str, examples: list[str]) -> dict:
        return {"agentId": agent_id, "llm": {"provider": "echo"},
                "storage": {"database": {"type": "sqlite", "path": str(tmp_path / f"{agent_id}.db")}},
                "routing": {"description": description, "examples": examples}}

    general = {"agentId": "general", "agentCard": {"description": "General questions."},
               "llm": {"provider": "openai-compatible", "model": "router-model", "baseURL": fake_llm.base_url,
                       "apiKey": "sk-test-key-0123456789abcdef", "maxRetries": 0},
               "storage": {"database": {"type": "sqlite", "path": str(tmp_path / "general.db")}}}
    configs = [general,
               twin("mortgages", "Home loans and mortgage rates.", ["what rate for a home loan"]),
               twin("loans", "Home loans and personal loans.", ["what rate for a home loan"])]
    fake_llm.script(Text("loans"))
    with serve_agents(*configs, default_agent="general") as live, live.client() as c:
        decision = c.post("/api/route", json={"content": "what rate for a home loan"}).json()
        assert decision["agentId"] == "loans" and decision["layer"] == "llm"
        assert "too close to call" in decision["reason"]
        prompt = fake_llm.requests[0]["json"]["messages"][-1]["content"]
        assert "- mortgages: Home loans and mortgage rates." in prompt and "- general:" not in prompt


def test_router_llm_margin_from_env(caplog):
    from switchyard.server.settings import llm_margin_from_env
    assert llm_margin_from_env({}) is None and llm_margin_from_env({"SWITCHYARD_ROUTER_LLM_MARGIN": " "}) is None
    assert llm_margin_from_env({"SWITCHYARD_ROUTER_LLM_MARGIN": "0"}) == 0.0
    assert llm_margin_from_env({"SWITCHYARD_ROUTER_LLM_MARGIN": "0.25"}) == 0.25
    for bad in ("abc", "-1", "nan"):
        assert llm_margin_from_env({"SWITCHYARD_ROUTER_LLM_MARGIN": bad}) is None
    assert "SWITCHYARD_ROUTER_LLM_MARGIN" in caplog.text and "'abc'" in caplog.text


def test_zero_config_agents_route_in_the_default_install_over_http(tmp_path, monkeypatch):
    """Agent files as the reference writes them (a card and a system prompt, no `routing:`),
    the default install's semantic layer (static embeddings, SWITCHYARD_ROUTER_SEMANTIC=static
    so the result is the same with or without the [semantic] extra), no fallback flag: the
    agent named `general` is found as the fallback."""
    monkeypatch.setenv("SWITCHYARD_ROUTER_SEMANTIC", "static")
    monkeypatch.delenv("SWITCHYARD_ROUTER_FALLBACK", raising=False)

    def card(agent_id: str, description: str | None, prompt: str) -> dict:
        config = {"agentId": agent_id, "llm": {"provider": "echo"}, "systemPrompt": prompt,
                  "storage": {"database": {"type": "sqlite", "path": str(tmp_path / f"{agent_id}.db")}}}
        if description:
            config["agentCard"] = {"description": description}
        return config

    configs = [card("general", "Anything else.", "You are a helpful general assistant."),
               card("payments", "Payments, refunds and invoices.", "You help customers with payments."),
               card("shipping", None, "You track parcels and deliveries and tell customers when "
                                      "their order will arrive.")]
    with serve_agents(*configs, default_agent="general") as live, live.client() as c:
        decision = c.post("/api/route", json={"content": "My payment failed"}).json()
        assert decision["agentId"] == "payments", decision["reason"]
        assert "semantic" in decision["ranked"][0]["scores"]
        late = c.post("/api/message-sync", json={"content": "where is my parcel, it's a week late",
                                                  "agentId": "auto", "sessionId": "z"}).json()
        assert late["agentId"] == "shipping" and late["routing"]["reason"]
        joke = c.post("/api/route", json={"content": "tell me a joke"}).json()
        assert joke["agentId"] == "general" and joke["fallback"] is True
        assert "fallback agent general" in joke["reason"]
