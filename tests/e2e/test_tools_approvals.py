"""Tool approval over HTTP (permissions.mode manual): the approval:request event on the stream,
GET /api/approvals, POST /api/approvals/{id} (approve, deny, cancel, remember), the timeout,
a client that reconnects while an approval is pending, and the body rules.

Agents (one live server for the module):
  gate          - manual, no timeout, the demo MCP server over stdio; `echo` is alwaysAllow.
  gate-timeout  - manual, 500 ms timeout, only the local tool.
"""

from __future__ import annotations

import pytest

from switchyard.tools.base import FunctionTool
from tests.support.fake_llm import Text, ToolCalls
from tests.support.sse import iter_sse, sse_events
from tests.support.tools import (
    agent_config,
    module_server,
    read_until,
    stdio_server,
    tool_messages,
)


def stamp(label: str) -> str:
    """A local tool: stamps a label."""
    return f"stamped {label}"


@pytest.fixture(scope="module")
def live(tmp_path_factory, fake_llm_server):
    base = fake_llm_server.base_url
    configs = [
        agent_config("gate", base, mcpServers={"demo": stdio_server()},
                     permissions={"mode": "manual", "toolPolicies": {"alwaysAllow": ["echo"]}}),
        agent_config("gate-timeout", base, permissions={"mode": "manual", "timeout": 500}),
    ]
    with module_server(tmp_path_factory, *configs, tools=[FunctionTool(stamp)]) as server:
        yield server


@pytest.fixture
def c(live):
    with live.client() as client:
        yield client


@pytest.fixture
def c2(live):
    """A second client: answers approvals while the first one reads a stream."""
    with live.client() as client:
        yield client


def send(c, content, session_id, agent_id="gate"):
    return c.stream("POST", "/api/message-stream",
                    json={"content": content, "sessionId": session_id, "agentId": agent_id})


def pending(c, session_id, **params):
    r = c.get("/api/approvals", params={"sessionId": session_id, **params})
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True
    return r.json()["approvals"]


def answer(c, approval_id, **body):
    return c.post(f"/api/approvals/{approval_id}", json=body)


def names(seen):
    return [n for n, _ in seen]


def test_approve_runs_the_tool_and_returns_its_result(c, c2, fake_llm):
    fake_llm.script(ToolCalls([("c1", "add", {"a": 2, "b": 3})]), Text("five"))
    seen = []
    with send(c, "add 2 and 3", "ok-1") as r:
        events = iter_sse(r)
        request = read_until(events, "approval:request", seen)
        assert "tool:running" not in names(seen)  # the call waits for the answer
        assert request["type"] == "tool_approval" and request["sessionId"] == "ok-1"
        assert request["metadata"] == {"toolName": "add", "toolCallId": "c1", "args": {"a": 2, "b": 3}}
        approval_id = request["approvalId"]

        listed = pending(c2, "ok-1")
        assert [a["approvalId"] for a in listed] == [approval_id]
        assert listed[0]["timestamp"] and listed[0]["metadata"]["toolName"] == "add"
        assert pending(c2, "ok-1", agentId="gate") == listed
        assert pending(c2, "ok-1", agentId="gate-timeout") == []

        r2 = answer(c2, approval_id, status="approved")
        assert r2.status_code == 200
        assert r2.json() == {"ok": True, "approvalId": approval_id, "status": "approved"}
        read_until(events, "run:complete", seen)

    response = next(d for n, d in seen if n == "approval:response")
    assert response["approvalId"] == approval_id and response["status"] == "approved"
    order = names(seen)
    assert order.index("approval:request") < order.index("approval:response") < order.index("tool:running")
    result = next(d for n, d in seen if n == "llm:tool-result")
    assert result["success"] is True and result["callId"] == "c1"
    assert tool_messages(fake_llm.requests[1]) == {"c1": "5"}
    assert pending(c2, "ok-1") == []
    # Answered already: not pending any more.
    assert answer(c2, approval_id, status="approved").json()["code"] == "approval_not_found"


def test_deny_goes_back_to_the_model_as_a_tool_error(c, c2, fake_llm):
    fake_llm.script(ToolCalls([("d1", "get_weather", {"city": "Rome"})]), Text("ok, I won't"))
    seen = []
    with send(c, "weather in Rome", "deny-1") as r:
        events = iter_sse(r)
        request = read_until(events, "approval:request", seen)
        r2 = answer(c2, request["approvalId"], status="denied", reason="user_denied",
                    message="not today")
        assert r2.json()["status"] == "denied"
        read_until(events, "run:complete", seen)
    response = next(d for n, d in seen if n == "approval:response")
    assert (response["status"], response["reason"], response["message"]) == ("denied", "user_denied", "not today")
    assert "tool:running" not in names(seen)
    result = next(d for n, d in seen if n == "llm:tool-result")
    assert result["success"] is False
    told = tool_messages(fake_llm.requests[1])["d1"]
    assert "denied" in told and "not today" in told


def test_cancel_is_a_tool_error_with_the_default_message(c, c2, fake_llm):
    fake_llm.script(ToolCalls([("x1", "add", {"a": 1, "b": 1})]), Text("cancelled then"))
    with send(c, "add", "cancel-1") as r:
        events = iter_sse(r)
        request = read_until(events, "approval:request")
        assert answer(c2, request["approvalId"], status="cancelled").json()["status"] == "cancelled"
        response = read_until(events, "approval:response")
        read_until(events, "run:complete")
    assert response["reason"] == "user_cancelled"
    assert "User cancelled the request via API" in tool_messages(fake_llm.requests[1])["x1"]


def test_remember_choice_approves_the_tool_for_the_rest_of_the_session(c, c2, fake_llm):
    fake_llm.script(ToolCalls([("r1", "add", {"a": 1, "b": 2})]),
                    ToolCalls([("r2", "add", {"a": 3, "b": 4})]), Text("3 and 7"))
    seen = []
    with send(c, "two sums", "remember-1") as r:
        events = iter_sse(r)
        request = read_until(events, "approval:request", seen)
        assert answer(c2, request["approvalId"], status="approved", rememberChoice=True).status_code == 200
        read_until(events, "run:complete", seen)
    assert names(seen).count("approval:request") == 1
    assert tool_messages(fake_llm.requests[2]) == {"r1": "3", "r2": "7"}

    # A later turn of the same session does not ask either ...
    fake_llm.script(ToolCalls([("r3", "add", {"a": 5, "b": 5})]), Text("10"))
    with send(c, "again", "remember-1") as r:
        later = sse_events(r)
    assert "approval:request" not in names(later)
    assert next(d for n, d in later if n == "llm:tool-result")["success"] is True

    # ... but another session does, and alwaysAllow tools never do.
    fake_llm.script(ToolCalls([("o1", "add", {"a": 0, "b": 0}), ("o2", "echo", {"text": "free"})]),
                    Text("done"))
    seen = []
    with send(c, "other", "remember-2") as r:
        events = iter_sse(r)
        request = read_until(events, "approval:request", seen)
        assert request["metadata"]["toolName"] == "add"
        answer(c2, request["approvalId"], status="denied")
        read_until(events, "run:complete", seen)
    assert names(seen).count("approval:request") == 1
    told = tool_messages(fake_llm.requests[-1])
    assert told["o2"] == "free" and "denied" in told["o1"]


def test_a_remembered_choice_ends_with_its_session(c, c2, fake_llm):
    fake_llm.script(ToolCalls([("f1", "add", {"a": 1, "b": 1})]), Text("2"))
    seen = []
    with send(c, "one sum", "forget-1") as r:
        events = iter_sse(r)
        request = read_until(events, "approval:request", seen)
        assert answer(c2, request["approvalId"], status="approved", rememberChoice=True).status_code == 200
        read_until(events, "run:complete", seen)
    r = c.delete("/api/sessions/forget-1", params={"agentId": "gate"})
    assert r.status_code == 200, r.text

    # A new session with the same id asks again: the choice went with the deleted session.
    fake_llm.script(ToolCalls([("f2", "add", {"a": 2, "b": 2})]), Text("not asked"))
    seen = []
    with send(c, "another sum", "forget-1") as r:
        events = iter_sse(r)
        request = read_until(events, "approval:request", seen)
        assert request["metadata"]["toolName"] == "add"
        assert answer(c2, request["approvalId"], status="denied").status_code == 200
        read_until(events, "run:complete", seen)
    assert "denied" in tool_messages(fake_llm.requests[-1])["f2"]


def test_an_unanswered_approval_times_out_as_cancelled(c, fake_llm):
    fake_llm.script(ToolCalls([("t1", "stamp", {"label": "late"})]), Text("timed out"))
    with send(c, "stamp it", "timeout-1", agent_id="gate-timeout") as r:
        seen = sse_events(r)
    request = next(d for n, d in seen if n == "approval:request")
    assert request["timeout"] == 500
    response = next(d for n, d in seen if n == "approval:response")
    assert (response["status"], response["reason"], response["timeoutMs"]) == ("cancelled", "timeout", 500)
    assert "timed out after 500 ms" in tool_messages(fake_llm.requests[1])["t1"]
    assert "tool:running" not in names(seen)
    assert pending(c, "timeout-1", agentId="gate-timeout") == []


def test_a_pending_approval_survives_the_client_reconnecting(c, c2, fake_llm):
    fake_llm.script(ToolCalls([("re1", "add", {"a": 40, "b": 2})]), Text("forty-two"))
    with send(c, "add after a reconnect", "reconnect-1") as r:
        request = read_until(iter_sse(r), "approval:request")
    # The client has gone; the run still waits for its answer.
    assert [a["approvalId"] for a in pending(c2, "reconnect-1")] == [request["approvalId"]]

    seen = []
    with c.stream("GET", "/api/sessions/reconnect-1/events", params={"agentId": "gate"}) as r:
        assert r.status_code == 200
        events = iter_sse(r)
        replayed = read_until(events, "approval:request", seen)
        assert replayed["approvalId"] == request["approvalId"]
        assert answer(c2, request["approvalId"], status="approved").status_code == 200
        read_until(events, "run:complete", seen)
    result = next(d for n, d in seen if n == "llm:tool-result")
    assert result["success"] is True
    assert tool_messages(fake_llm.requests[1]) == {"re1": "42"}
    assert next(d for n, d in seen if n == "llm:response")["content"] == "forty-two"
    history = c.get("/api/sessions/reconnect-1/history", params={"agentId": "gate"}).json()
    assert history["isBusy"] is False
    assert [m.get("toolCallId") for m in history["history"] if m["role"] == "tool"] == ["re1"]


@pytest.mark.parametrize("body, field", [
    ({}, "status"),
    ({"status": "maybe"}, "status"),
    ({"status": "approved", "reason": "user_denied"}, "reason"),
    ({"status": "approved", "message": "why"}, "message"),
    ({"status": "denied", "rememberChoice": True}, "rememberChoice"),
    ({"status": "cancelled", "formData": {}}, "formData"),
    ({"status": "denied", "reason": "timeout"}, "reason"),
    ({"status": "cancelled", "reason": "user_denied"}, "reason"),
    ({"status": "denied", "reason": "because"}, "reason"),
    ({"status": "approved", "rememberChoice": "yes"}, "rememberChoice"),
    ({"status": "approved", "extra": 1}, "extra"),
])
def test_body_rule_violations_are_400_naming_the_field(c, body, field):
    r = c.post("/api/approvals/some-id", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "validation_failed"
    assert r.json()["details"]["field"] == field and field in r.json()["message"]


def test_approval_request_errors(c):
    r = c.post("/api/approvals/some-id", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_json"
    r = c.post("/api/approvals/no-such-approval", json={"status": "approved"})
    assert r.status_code == 404 and r.json()["code"] == "approval_not_found"
    r = c.get("/api/approvals")
    assert r.status_code == 400 and "sessionId" in r.json()["message"]
    assert pending(c, "never-seen") == []


# --- with auth on: a key sees and answers only its own sessions' approvals --------------------

def test_approvals_are_scoped_to_the_sessions_a_key_owns(tmp_path_factory, fake_llm_server):
    root_key = "sk-root-" + "a" * 40
    config = agent_config("owned", fake_llm_server.base_url, permissions={"mode": "manual"})
    auth = {"SWITCHYARD_API_KEY": root_key, "SWITCHYARD_REQUIRE_AUTH": "true"}
    fake_llm_server.reset()
    fake_llm_server.script(ToolCalls([("o1", "stamp", {"label": "mine"})]), Text("stamped"))
    try:
        with module_server(tmp_path_factory, config, env=auth, tools=[FunctionTool(stamp)]) as live:
            with live.client(headers={"Authorization": f"Bearer {root_key}"}) as root:
                keys = {name: root.post("/api/keys", json={"name": name, "scopes": ["chat", "read"]})
                        .json()["key"] for name in ("alice", "bob")}
            alice = live.client(headers={"Authorization": f"Bearer {keys['alice']}"})
            bob = live.client(headers={"Authorization": f"Bearer {keys['bob']}"})
            # A chat key names only sessions it can see: the server makes hers.
            with live.client(headers={"Authorization": f"Bearer {keys['alice']}"}) as first:
                sid = first.post("/api/sessions", json={"agentId": "owned"}).json()["session"]["id"]
            with alice, bob, send(alice, "stamp mine", sid, agent_id="owned") as r:
                events = iter_sse(r)
                request = read_until(events, "approval:request")
                assert pending(bob, sid) == []
                r2 = answer(bob, request["approvalId"], status="approved")
                assert r2.status_code == 404 and r2.json()["code"] == "approval_not_found"
                assert [a["approvalId"] for a in pending(alice, sid)] == [request["approvalId"]]
                assert answer(alice, request["approvalId"], status="approved").status_code == 200
                result = read_until(events, "llm:tool-result")
                read_until(events, "run:complete")
            assert result["success"] is True
    finally:
        left = fake_llm_server.pending
        fake_llm_server.reset()
    assert left == 0
