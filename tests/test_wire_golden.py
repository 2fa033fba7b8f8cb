"""Golden tests of the REST wire format: the exact SSE frames of `POST /api/message-stream`
(text, reasoning, tool call, approval, upstream failure, routing), the busy answer, the
`message-sync` body and the re-attach frames of `GET /api/sessions/{id}/events`.

A real server and the scripted fake LLM over real HTTP; snapshots in tests/golden/ (README
there). Written before the wave-2 refactor so that it can prove the wire stays byte-compatible.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import yaml

from switchyard.tools.base import FunctionTool
from tests.fakellm import Error, Text, ToolCalls
from tests.golden.snapshot import check, response_text, section
from tests.serverutil import serve_agents
from tests.toolsutil import agent_config, module_server, stdio_server, wait_until

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "agents"


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def refuse(reason: str) -> str:
    """Always fails (a tool error with a fixed message)."""
    raise ValueError(f"refused: {reason}")


@pytest.fixture(scope="module")
def live(tmp_path_factory, fake_llm_server):
    base = fake_llm_server.base_url
    configs = [agent_config("golden", base),
               agent_config("golden-manual", base, permissions={"mode": "manual"}),
               agent_config("golden-mcp", base, mcpServers={"demo": stdio_server()})]
    with module_server(tmp_path_factory, *configs, tools=[FunctionTool(add), FunctionTool(refuse)]) as server:
        yield server


@pytest.fixture
def c(live):
    with live.client() as client:
        yield client


def stream(c, body: dict) -> str:
    """The whole `POST /api/message-stream` response, as received."""
    with c.stream("POST", "/api/message-stream", json=body) as r:
        raw = b"".join(r.iter_bytes())
    return response_text(r, raw.decode())


def test_stream_plain_text_in_chunks(c, fake_llm):
    fake_llm.script(Text("The quick brown fox jumps.", chunks=4, usage=(11, 5)))
    check("rest_stream_text.txt", stream(c, {"content": "tell me", "sessionId": "g-text", "agentId": "golden"}))


def test_stream_reasoning_chunks(c, fake_llm):
    fake_llm.script(Text("Four.", chunks=2, reasoning="2+2 is 4", usage=(9, 1)))
    check("rest_stream_reasoning.txt",
          stream(c, {"content": "what is 2+2", "sessionId": "g-reason", "agentId": "golden"}))


def test_stream_tool_call_and_result(c, fake_llm):
    fake_llm.script(ToolCalls([("call_g1", "add", {"a": 2, "b": 3})], usage=(12, 4)),
                    Text("It is 5.", chunks=2, usage=(20, 3)))
    check("rest_stream_tool.txt", stream(c, {"content": "add 2 and 3", "sessionId": "g-tool", "agentId": "golden"}))


def test_stream_mcp_stdio_tool_and_a_failing_tool(c, fake_llm):
    # get_weather comes from the demo MCP server over stdio, refuse is a local function tool.
    # One call per step: calls of one step may run concurrently, which would make the order
    # of their frames a matter of timing.
    fake_llm.script(ToolCalls([("call_g5", "get_weather", {"city": "Paris"})], usage=(12, 4)),
                    ToolCalls([("call_g6", "refuse", {"reason": "on purpose"})], usage=(20, 4)),
                    Text("Sunny, and it refused.", chunks=2, usage=(30, 4)))
    check("rest_stream_mcp_tool.txt",
          stream(c, {"content": "weather, then refuse", "sessionId": "g-mcp-tool", "agentId": "golden-mcp"}))


def test_stream_approval_answered_over_the_api(live, c, fake_llm):
    fake_llm.script(ToolCalls([("call_g2", "add", {"a": 1, "b": 1})], usage=(12, 4)),
                    Text("Two.", chunks=1, usage=(20, 1)))
    answers: list[str] = []
    body = {"content": "add 1 and 1", "sessionId": "g-approve", "agentId": "golden-manual"}
    chunks: list[bytes] = []
    with live.client() as other, c.stream("POST", "/api/message-stream", json=body) as r:
        for chunk in r.iter_bytes():
            chunks.append(chunk)
            if b"event: approval:request" in b"".join(chunks) and not answers:
                pending = wait_until(lambda: other.get("/api/approvals",
                                                       params={"sessionId": "g-approve"}).json()["approvals"])
                listed = other.get("/api/approvals", params={"sessionId": "g-approve"})
                answered = other.post(f"/api/approvals/{pending[0]['approvalId']}", json={"status": "approved"})
                answers += [section("GET /api/approvals?sessionId=g-approve", response_text(listed)),
                            section("POST /api/approvals/{approvalId}", response_text(answered))]
    check("rest_stream_approval.txt",
          section("POST /api/message-stream", response_text(r, b"".join(chunks).decode())) + "".join(answers))


@pytest.mark.parametrize("status", [400, 500])
def test_stream_upstream_failure(c, fake_llm, status):
    # 500 is retried by the client: script enough failures for every attempt.
    fake_llm.script(*[Error(status, message=f"upstream says {status}") for _ in range(1 if status == 400 else 3)])
    check(f"rest_stream_llm_error_{status}.txt",
          stream(c, {"content": "fail please", "sessionId": f"g-fail-{status}", "agentId": "golden"}))


def test_message_sync_body(c, fake_llm):
    fake_llm.script(Text("Synchronous answer.", chunks=2, usage=(7, 2)))
    r = c.post("/api/message-sync", json={"content": "wait for it", "sessionId": "g-sync", "agentId": "golden"})
    check("rest_message_sync.txt", response_text(r))


def test_busy_session_answers_202(c, fake_llm):
    fake_llm.script(Text("slow answer", delay=2.0))
    body = {"content": "first", "sessionId": "g-busy", "agentId": "golden"}
    first = threading.Thread(target=lambda: c.post("/api/message-sync", json=body))
    first.start()
    try:
        wait_until(lambda: c.get("/api/sessions/g-busy/history").json().get("isBusy")
                   if c.get("/api/sessions/g-busy").status_code == 200 else False)
        r = c.post("/api/message-stream", json={**body, "content": "second"})
    finally:
        first.join()
    check("rest_stream_busy_202.txt", response_text(r))


def test_reattach_replays_the_running_turn(live, c, fake_llm):
    fake_llm.script(Text("one two three four", chunks=4, chunk_delay=0.5, usage=(5, 4)))
    body = {"content": "count", "sessionId": "g-attach", "agentId": "golden"}
    with c.stream("POST", "/api/message-stream", json=body) as r:
        lines = r.iter_lines()
        for line in lines:
            if line.startswith("event: llm:chunk"):
                break  # the first chunk is out: the run is under way, so attach now
        with live.client() as other, other.stream("GET", "/api/sessions/g-attach/events") as attached:
            reattached = response_text(attached, b"".join(attached.iter_bytes()).decode())
        for _ in lines:
            pass
    idle = c.get("/api/sessions/g-attach/events")
    check("rest_session_events.txt", section("GET /api/sessions/g-attach/events (running)", reattached)
          + section("GET /api/sessions/g-attach/events (idle)", response_text(idle)))


@pytest.fixture
def routed(tmp_path, monkeypatch):
    """Five example agents (echo provider) behind one server, the router on keywords and
    examples only (the semantic layer off, so the decision is the same on every machine)."""
    monkeypatch.setenv("SWITCHYARD_ROUTER_SEMANTIC", "off")
    monkeypatch.setenv("SWITCHYARD_ROUTER_FALLBACK", "general")
    configs = []
    for name in ("general", "billing", "travel", "cooking", "devops"):
        config = yaml.safe_load((EXAMPLES / f"{name}.yml").read_text())
        config["storage"] = {"database": {"type": "in-memory"}}
        configs.append(config)
    with serve_agents(*configs, default_agent="general") as server:
        yield server


def test_auto_routing_decision_frame(routed):
    with routed.client() as c:
        text = stream(c, {"content": "My kubernetes deployment keeps crashing", "agentId": "auto",
                          "sessionId": "g-route"})
        sync = c.post("/api/message-sync", json={"content": "Book me a flight to Lisbon and a hotel",
                                                 "agentId": "auto", "sessionId": "g-route-sync"})
    check("rest_stream_auto_routing.txt", section("POST /api/message-stream agentId=auto", text)
          + section("POST /api/message-sync agentId=auto", response_text(sync)))


# --- the snapshot helper itself ------------------------------------------------------------

def test_normaliser_numbers_ids_consistently_and_keeps_every_other_byte():
    from tests.golden.snapshot import Normaliser
    a, b = "0b7c7d1e-3f4a-4b5c-8d9e-0f1a2b3c4d5e", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    text = (f'event: x\ndata: {{"id":"{a}","other":"{b}", "again":"{a}","timestamp":1764583774123,'
            f'"durationMs":12,"at":"2026-12-01T10:00:00.123456Z"}}\n\n: keepalive\n\n')
    assert Normaliser()(text) == ('event: x\ndata: {"id":"<id:1>","other":"<id:2>", "again":"<id:1>",'
                                  '"timestamp":<ms>,"durationMs":<duration>,"at":"<iso-time>"}\n\n')
    unordered = Normaliser(("metadata",))('{"metadata":{"z":1,"a":{"y":2,"b":3}},"k":{"z":1,"a":2}}')
    assert unordered == '{"metadata":{"a":{"b":3,"y":2},"z":1},"k":{"z":1,"a":2}}'


def test_a_mismatch_fails_with_a_unified_diff(monkeypatch):
    import tests.golden.snapshot as snapshot
    monkeypatch.setattr(snapshot, "UPDATE", False)
    with pytest.raises(AssertionError) as info:
        check("rest_stream_busy_202.txt", "HTTP 202 application/json\n\n{}")
    assert "--- golden/rest_stream_busy_202.txt" in str(info.value) and "+{}" in str(info.value)
