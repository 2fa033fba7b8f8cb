"""builtin-tools over HTTP: delegate_to_url sends an A2A message/send to another hosted agent
(reached only because allowedHosts names it: it is on loopback), search_history finds the
session's earlier messages, and an SSRF attempt through http_request comes back to the model
as a tool error. Two agents on one live server, one scripted fake LLM."""

from __future__ import annotations

import json

import pytest

from tests.support.fake_llm import Text, ToolCalls
from tests.support.live_server import LiveServer, serve_agents
from tests.support.net import free_port
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
