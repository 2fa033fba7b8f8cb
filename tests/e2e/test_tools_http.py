"""MCP tools end to end over HTTP: a real Switchyard server whose agents use the demo MCP server
(tests/support/mcp_servers/demo_server.py) over stdio and over streamable HTTP on loopback, driven by
the scripted fake LLM. One server for the module (each stdio server costs ~1 s to start).

Agents:
  tools  - `demo` (stdio) plus one local tool: MCP tools keep their own names.
  mixed  - `web` (streamable HTTP) and `slowpoke` (stdio, timeout 800 ms): the same tool names
           on two servers, so every MCP tool is exposed as `<server>--<tool>`.
"""

from __future__ import annotations

import time

import pytest

from switchyard.tools.base import FunctionTool
from tests.support.fake_llm import Text, ToolCalls
from tests.support.sse import sse_events
from tests.support.tools import (
    agent_config,
    http_demo_server,
    module_server,
    stdio_server,
    tool_messages,
    wait_until,
)


def stamp(label: str) -> str:
    """A local tool: stamps a label."""
    return f"stamped {label}"


STAMP = FunctionTool(stamp, input_schema={"type": "object", "properties": {"label": {"type": "string"}},
                                          "required": ["label"]})


@pytest.fixture(scope="module")
def live(tmp_path_factory, fake_llm_server):
    with http_demo_server() as web_url:
        configs = [
            agent_config("tools", fake_llm_server.base_url, mcpServers={"demo": stdio_server()}),
            agent_config("mixed", fake_llm_server.base_url, mcpServers={
                "web": {"type": "http", "url": web_url, "timeout": 5000},
                "slowpoke": stdio_server(timeout=800)}),
        ]
        with module_server(tmp_path_factory, *configs, tools=[STAMP]) as server:
            yield server


@pytest.fixture
def c(live):
    with live.client() as client:
        yield client


def stream(c, content, session_id, agent_id="tools"):
    with c.stream("POST", "/api/message-stream",
                  json={"content": content, "sessionId": session_id, "agentId": agent_id}) as r:
        assert r.status_code == 200, r.read()
        return sse_events(r)


def named(events, name):
    return [data for n, data in events if n == name]


# --- discovery ----------------------------------------------------------------------------

def test_discovery_lists_local_then_mcp_tools_with_schemas(c):
    body = c.get("/api/tools", params={"agentId": "tools"}).json()
    names = [t["name"] for t in body["tools"]]
    assert names[0] == "stamp" and body["tools"][0]["source"] == "local"
    assert names[1:] == sorted(names[1:])
    assert {"add", "echo", "get_weather", "slow", "crash", "pid"} <= set(names)  # unprefixed
    assert body["localCount"] == 1 and body["mcpCount"] == body["totalCount"] - 1
    add = next(t for t in body["tools"] if t["name"] == "add")
    assert add["id"] == "add" and add["source"] == "mcp" and add["serverName"] == "demo"
    assert add["description"] == "Add two integers."
    assert sorted(add["inputSchema"]["required"]) == ["a", "b"]

    servers = c.get("/api/mcp/servers", params={"agentId": "tools"}).json()["servers"]
    assert servers == [{"id": "demo", "name": "demo", "status": "connected"}]

    prompts = c.get("/api/prompts", params={"agentId": "tools"}).json()["prompts"]
    greet = next(p for p in prompts if p["name"] == "greet")
    assert greet["source"] == "mcp" and greet["arguments"][0]["name"] == "name"
    resources = c.get("/api/resources", params={"agentId": "tools"}).json()
    assert resources["ok"] is True
    assert resources["resources"] == [{
        "uri": "mcp:demo:demo://greeting", "name": "greeting",
        "source": "mcp", "serverName": "demo", "description": "A fixed greeting",
        "mimeType": "text/plain", "metadata": {"originalUri": "demo://greeting", "serverName": "demo"}}]


def test_colliding_names_are_prefixed_with_the_server(c):
    names = {t["name"] for t in c.get("/api/tools", params={"agentId": "mixed"}).json()["tools"]}
    assert {"web--add", "slowpoke--add", "web--get_weather", "stamp"} <= names
    assert "add" not in names
    tools = c.get("/api/mcp/servers/web/tools", params={"agentId": "mixed"}).json()["tools"]
    add = next(t for t in tools if t["name"] == "add")
    assert add["id"] == "web--add" and "inputSchema" in add


# --- calls in a run ---------------------------------------------------------------------------

def test_tool_call_streams_events_and_lands_in_history(c, fake_llm):
    fake_llm.script(ToolCalls([("c1", "add", {"a": 1, "b": 2})]), Text("it is three"))
    events = stream(c, "what is 1+2?", "calc")
    names = [n for n, _ in events]
    order = [names.index(n) for n in ("llm:tool-call", "tool:running", "llm:tool-result", "llm:response")]
    assert order == sorted(order) and names[-1] == "run:complete"
    assert named(events, "llm:tool-call")[0] == {"name": "llm:tool-call", "sessionId": "calc",
                                                 "toolName": "add", "args": {"a": 1, "b": 2},
                                                 "callId": "c1"}
    assert named(events, "tool:running")[0]["toolCallId"] == "c1"
    result = named(events, "llm:tool-result")[0]
    assert result["callId"] == "c1" and result["success"] is True
    assert result["sanitized"]["content"][0]["text"] == "3"

    # The model saw the tool with its schema, and then the result under the call's id.
    first, second = fake_llm.requests
    sent = {t["function"]["name"]: t["function"] for t in first["json"]["tools"]}
    assert sent["add"]["parameters"]["properties"]["a"]["type"] == "integer"
    assert tool_messages(second) == {"c1": "3"}

    history = c.get("/api/sessions/calc/history", params={"agentId": "tools"}).json()["history"]
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant"]
    assert history[1]["toolCalls"][0]["id"] == "c1"
    assert history[1]["toolCalls"][0]["function"]["name"] == "add"
    assert history[2]["toolCallId"] == "c1" and history[2]["name"] == "add"
    assert history[2]["success"] is True
    assert history[3]["content"] == "it is three"


def test_calls_of_one_step_run_concurrently(c, fake_llm):
    fake_llm.script(ToolCalls([("s", "slow", {"seconds": 1.0}), ("a", "add", {"a": 20, "b": 22}),
                               ("e", "echo", {"text": "hi"}), ("l", "stamp", {"label": "x"})]),
                    Text("all done"))
    events = stream(c, "do four things", "conc")
    results = [d["callId"] for d in named(events, "llm:tool-result")]
    # Ordering, not wall time, shows it (no timed assertions): the three fast calls ended
    # while the slow one (started first) was still sleeping.
    assert results[-1] == "s", "the fast calls waited for the slow one"
    assert sorted(results) == ["a", "e", "l", "s"]
    assert tool_messages(fake_llm.requests[1]) == {"s": "slept 1.0", "a": "42", "e": "hi",
                                                   "l": "stamped x"}


def test_arguments_that_break_the_schema_go_back_as_a_tool_error(c, fake_llm):
    fake_llm.script(ToolCalls([("bad", "get_weather", {"town": "Paris"}),
                               ("worse", "add", {"a": "one", "b": 2})]),
                    Text("sorry"))
    events = stream(c, "weather?", "schema")
    outcomes = {d["callId"]: d for d in named(events, "llm:tool-result")}
    assert outcomes["bad"]["success"] is False and outcomes["worse"]["success"] is False
    seen = tool_messages(fake_llm.requests[1])
    assert "Invalid arguments for tool 'get_weather'" in seen["bad"]
    assert "'city' is a required property" in seen["bad"]
    assert "at 'a'" in seen["worse"] and "integer" in seen["worse"]
    assert named(events, "llm:response")[0]["content"] == "sorry"


def test_streamable_http_server_tools_work_in_the_loop(c, fake_llm):
    fake_llm.script(ToolCalls([("w", "web--get_weather", {"city": "Oslo"})]), Text("sunny"))
    events = stream(c, "weather in Oslo?", "web", agent_id="mixed")
    assert named(events, "llm:tool-result")[0]["success"] is True
    assert tool_messages(fake_llm.requests[1]) == {"w": "Sunny in Oslo, 21 C"}


def test_a_slow_tool_times_out_as_a_tool_error_and_the_server_stays_usable(c, fake_llm):
    # The tool would take 30 s; the turn goes on after the 800 ms timeout.
    fake_llm.script(ToolCalls([("t", "slowpoke--slow", {"seconds": 30})]), Text("too slow"))
    started = time.monotonic()
    events = stream(c, "be slow", "slow", agent_id="mixed")
    assert time.monotonic() - started < 20
    result = named(events, "llm:tool-result")[0]
    assert result["success"] is False and "timed out after 800 ms" in result["error"]
    assert "timed out after 800 ms" in tool_messages(fake_llm.requests[1])["t"]
    assert events[-1][1]["finishReason"] == "stop"
    # The same server still answers (the slow call was abandoned, not the connection).
    r = c.post("/api/mcp/servers/slowpoke/tools/add/execute", params={"agentId": "mixed"},
               json={"a": 2, "b": 3})
    assert r.status_code == 200 and r.json()["success"] is True
    assert r.json()["data"]["content"][0]["text"] == "5"


# --- a crashing server (last: it kills the `tools` agent's server) ------------------------------

def _status(c, agent_id="tools", server="demo"):
    servers = c.get("/api/mcp/servers", params={"agentId": agent_id}).json()["servers"]
    return next(s for s in servers if s["id"] == server)


def _pid(c):
    r = c.post("/api/mcp/servers/demo/tools/pid/execute", params={"agentId": "tools"}, json={})
    assert r.json()["success"] is True, r.json()
    return int(r.json()["data"]["content"][0]["text"])


def test_a_crashed_server_fails_clearly_then_restarts(c, fake_llm):
    first_pid = _pid(c)
    fake_llm.script(ToolCalls([("k", "crash", {})]), ToolCalls([("p", "pid", {})]), Text("hmm"))
    events = stream(c, "crash it", "crash")
    outcomes = {d["callId"]: d for d in named(events, "llm:tool-result")}
    assert outcomes["k"]["success"] is False
    assert outcomes["p"]["success"] is False
    assert "MCP server 'demo' is not connected" in tool_messages(fake_llm.requests[2])["p"]
    assert events[-1][1]["finishReason"] == "stop"  # the run (and the agent) carried on

    # The supervisor restarts it with backoff; then the same tools work again.
    wait_until(lambda: _status(c)["status"] == "connected")
    second_pid = _pid(c)
    assert second_pid != first_pid
    fake_llm.script(ToolCalls([("p2", "pid", {})]), Text("back"))
    events = stream(c, "pid?", "crash")
    assert named(events, "llm:tool-result")[0]["success"] is True
    assert tool_messages(fake_llm.requests[-1])["p2"] == str(second_pid)

    # An explicit restart gives a new process too.
    r = c.post("/api/mcp/servers/demo/restart", params={"agentId": "tools"})
    assert r.status_code == 200
    assert r.json() == {"status": "restarted", "id": "demo", "serverStatus": "connected"}
    assert _pid(c) not in (first_pid, second_pid)
