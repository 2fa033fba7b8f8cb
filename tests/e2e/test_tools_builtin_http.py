"""builtin-tools and agent-spawner over HTTP: delegate_to_url sends an A2A message/send to another hosted agent
(reached only because allowedHosts names it: it is on loopback), search_history finds the
session's earlier messages, and an SSRF attempt through http_request comes back to the model
as a tool error; spawn_agent runs another hosted agent (auto-approving its calls, as
autoApproveAgents says) and its run shows as service:event events of the parent session.
Agents on one live server, one scripted fake LLM."""

from __future__ import annotations

import json

import pytest

from tests.support.fake_llm import Text, ToolCalls
from tests.support.live_server import LiveServer, serve_agents
from tests.support.net import free_port
from tests.support.sse import iter_sse
from tests.support.tools import agent_config, tool_messages


@pytest.fixture
def live(fake_llm, tmp_path, monkeypatch):
    monkeypatch.setenv("SWITCHYARD_HOME", str(tmp_path / "home"))
    port = free_port()
    boss = agent_config("boss", fake_llm.base_url, tools=[
        {"type": "builtin-tools", "allowedHosts": [f"127.0.0.1:{port}"]}])
    helper = agent_config("helper", fake_llm.base_url)
    server = serve_agents(boss, helper, default_agent="boss")
    with LiveServer(server.app_factory, port=port) as running:
        yield running, port


def said(fake_llm) -> dict[str, str]:
    told: dict[str, str] = {}
    for request in fake_llm.requests:
        told.update(tool_messages(request))
    return told


def test_delegate_to_url_search_history_and_ssrf(live, fake_llm):
    server, port = live
    fake_llm.script(
        ToolCalls([("d1", "delegate_to_url", {"url": f"http://127.0.0.1:{port}/agents/helper",
                                              "message": "what is six times seven?"})]),
        Text("forty-two"),                      # the helper agent's answer, over A2A
        Text("The helper says forty-two."),
        ToolCalls([("h1", "search_history", {"query": "SIX TIMES"}),
                   ("s1", "http_request", {"url": "http://169.254.169.254/latest/meta-data/"}),
                   ("s2", "http_request", {"url": f"http://localhost:{port}/api/tools"})]),
        Text("done"),
    )
    with server.client() as c:
        first = c.post("/api/message-sync", json={"content": "ask the helper: six times seven?",
                                                  "sessionId": "b1", "agentId": "boss"})
        assert first.status_code == 200, first.text
        assert first.json()["response"] == "The helper says forty-two."
        second = c.post("/api/message-sync", json={"content": "what did I ask before?", "sessionId": "b1",
                                                   "agentId": "boss"})
        assert second.status_code == 200, second.text
        tools = {t["name"]: t["source"] for t in c.get("/api/tools", params={"agentId": "boss"}).json()["tools"]}
    told = said(fake_llm)
    delegated = json.loads(told["d1"])
    assert delegated["success"] is True and delegated["response"] == "forty-two"
    assert delegated["sessionId"].startswith("delegation-")
    found = json.loads(told["h1"])
    assert [(m["sessionId"], m["role"]) for m in found["matches"]] == [("b1", "user")]
    assert "six times seven" in found["matches"][0]["snippet"]
    assert "blocked" in told["s1"] and "169.254.169.254" in told["s1"]
    assert "blocked" in told["s2"] and "loopback" in told["s2"]
    assert tools["delegate_to_url"] == tools["search_history"] == tools["http_request"] == "builtin"


@pytest.fixture
def spawning(fake_llm, tmp_path, monkeypatch):
    monkeypatch.setenv("SWITCHYARD_HOME", str(tmp_path / "home"))
    lead = agent_config("lead", fake_llm.base_url, tools=[
        {"type": "agent-spawner", "allowedAgents": ["explorer"], "autoApproveAgents": ["explorer"]}])
    explorer = agent_config("explorer", fake_llm.base_url, permissions={"mode": "manual"},
                            tools=[{"type": "builtin-tools", "enabledTools": ["sleep"]}])
    outsider = agent_config("outsider", fake_llm.base_url)
    with serve_agents(lead, explorer, outsider, default_agent="lead") as running:
        yield running


def test_spawn_agent_runs_a_hosted_agent_and_its_run_shows_in_the_parent_session(spawning, fake_llm):
    fake_llm.script(
        ToolCalls([("p1", "spawn_agent", {"task": "look around", "instructions": "nap briefly, then report",
                                          "agentId": "explorer"})]),
        ToolCalls([("k1", "sleep", {"ms": 5})]),        # the explorer's step: asks approval (manual mode)
        Text("all quiet"),                               # the explorer's answer
        ToolCalls([("p2", "spawn_agent", {"task": "x", "instructions": "y", "agentId": "outsider"})]),
        Text("The explorer says: all quiet."),
    )
    seen = []
    with spawning.client() as c:
        with c.stream("POST", "/api/message-stream", json={"content": "explore", "sessionId": "lead-1"}) as r:
            for name, data in iter_sse(r):
                seen.append((name, data))
                if name == "run:complete":
                    break
        explorer_sessions = c.get("/api/sessions", params={"agentId": "explorer"}).json()["sessions"]
    service = [(d["event"], d["data"].get("toolName")) for n, d in seen if n == "service:event"]
    assert service == [("started", None), ("progress", "sleep"), ("completed", None)]
    started = next(d for n, d in seen if n == "service:event")
    assert started["toolCallId"] == "p1" and started["data"]["agentId"] == "explorer"
    assert [s["id"] for s in explorer_sessions] == [started["data"]["sessionId"]]
    told = said(fake_llm)
    assert json.loads(told["p1"]) == {"success": True, "agentId": "explorer",
                                      "sessionId": started["data"]["sessionId"], "response": "all quiet"}
    assert "not in allowedAgents (explorer)" in told["p2"]
