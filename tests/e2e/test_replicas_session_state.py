"""Two real `switchyard serve` processes sharing Postgres and Redis: the per-session state that
used to stay in one process (docs/production.md) is the same on both.

- steer and follow-up queues are in Redis: a steer message sent to B joins the turn running on
  A; a follow-up sent to B runs once after A's turn; listing and clearing answer alike on both;
  a message queued on B survives B's kill -9;
- a "remember this choice" approval given for a turn on A holds on B;
- a session's model switched on A (with its own API key) is what B's next turn of that session
  uses; so are the session's system-prompt contributors;
- an approval whose replica was killed leaves the listing once that replica's heartbeat is gone,
  and a follow-up queued behind that replica's turn runs once its lease expired.

The kill tests run last (they stop replicas of the module's pair).
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from typing import Any, Iterator

import pytest

from tests.conftest import postgres_url, redis_url
from tests.support.fake_llm import Delay, FakeLLM, Text, ToolCalls
from tests.support.sse import sse_events
from tests.support.replicas import fake  # noqa: F401 - fixture
from tests.support.replicas import (ROOT, SHARED_BACKENDS, Replica, new_prefix, replica_env,
                                    stream_in_background, text_of, wait_until)

pytestmark = SHARED_BACKENDS

LEASE_TTL = 4.0


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, fake: FakeLLM) -> Iterator[tuple[Replica, Replica]]:
    folder = tmp_path_factory.mktemp("replicas-state")
    agent = {"agentId": "replicated", "systemPrompt": "You are a test agent.",
             "llm": {"provider": "openai-compatible", "model": "fake-model", "baseURL": fake.base_url,
                     "apiKey": "agent-key"},
             "storage": {"database": {"type": "postgres", "url": postgres_url()}},
             "permissions": {"mode": "manual", "toolPolicies": {"alwaysAllow": ["sleep"]}},
             "tools": [{"type": "builtin-tools", "enabledTools": ["sleep", "search_history"]}]}
    agent_file = folder / "agent.yml"
    agent_file.write_text(json.dumps(agent))     # JSON is YAML
    prefix = new_prefix()
    from cryptography.fernet import Fernet
    secret = Fernet.generate_key().decode()   # one key for the deployment (server/secret_box.py)
    envs = [replica_env(tmp_path_factory.mktemp(f"home-{name}"), prefix, SWITCHYARD_SESSION_LEASE_TTL=str(LEASE_TTL),
                        SWITCHYARD_AUTH_FAILURE_LIMIT="1000/minute", SWITCHYARD_SECRET_KEY=secret)
            for name in ("a", "b")]
    a = Replica("a", agent_file, envs[0]).ready()
    b = Replica("b", agent_file, envs[1]).ready()
    for replica, env in ((a, envs[0]), (b, envs[1])):
        replica.env, replica.agent_file = env, agent_file   # type: ignore[attr-defined]
    for replica in (a, b):   # load the model's SDK before the tests' short leases (as in test_replicas_processes)
        with replica.client() as c:
            assert c.post("/api/message-sync", json={"content": "warm up"}, headers=ROOT).status_code == 200
    yield a, b
    for replica in (a, b):
        replica.process.stop()


def _user_texts(body: dict[str, Any]) -> list[str]:
    out = []
    for message in body["messages"]:
        if message["role"] != "user":
            continue
        content = message["content"]
        out.append(content if isinstance(content, str) else "".join(p.get("text", "") for p in content))
    return out


def _history(replica: Replica, session: str) -> list[dict[str, Any]]:
    with replica.client() as c:
        return c.get(f"/api/sessions/{session}/history", headers=ROOT).json()["history"]


def test_a_steer_message_sent_to_b_joins_the_turn_running_on_a(pair, fake):
    a, b = pair
    session = f"s-{uuid.uuid4().hex[:8]}"
    fake.reset()
    # Step 1 takes a while, then calls a tool; the steer message joins before step 2.
    fake.script(Delay(6.0, then=ToolCalls([("c1", "sleep", {"ms": 10})])), Text("steered answer"))
    on_a: list[tuple[str, Any]] = []
    reader = stream_in_background(a, {"content": "start working", "sessionId": session}, on_a)
    wait_until(lambda: len(fake.requests) >= 1, what="A's first model call")
    with b.client() as c:
        queued = c.post(f"/api/steer/{session}", json={"content": "use metric units"}, headers=ROOT)
        assert queued.status_code == 201, queued.text
        assert queued.json()["position"] == 1
        # The same queue from both replicas.
        listed_b = c.get(f"/api/steer/{session}", headers=ROOT).json()
    with a.client() as c:
        listed_a = c.get(f"/api/steer/{session}", headers=ROOT).json()
    assert listed_a == listed_b and [m["id"] for m in listed_a["messages"]] == [queued.json()["id"]]
    assert listed_a["messages"][0]["content"] == [{"type": "text", "text": "use metric units"}]
    reader.join(60)
    assert on_a[-1][0] == "run:complete" and text_of(on_a) == "steered answer"
    # The model's second step on A saw the message sent to B; it is stored in the turn.
    assert _user_texts(fake.requests[-1]["json"])[-1] == "use metric units"
    history = _history(b, session)
    steer = [m for m in history if m["role"] == "user" and (m.get("metadata") or {}).get("queue") == "steer"]
    assert len(steer) == 1 and steer[0]["metadata"]["queuedId"] == queued.json()["id"]
    with a.client() as c:
        assert c.get(f"/api/steer/{session}", headers=ROOT).json()["count"] == 0


def test_a_follow_up_sent_to_b_runs_once_after_the_turn_on_a(pair, fake):
    a, b = pair
    session = f"s-{uuid.uuid4().hex[:8]}"
    fake.reset()
    fake.script(Delay(6.0, then=Text("first answer")), Text("follow-up answer"))
    on_a: list[tuple[str, Any]] = []
    reader = stream_in_background(a, {"content": "first question", "sessionId": session}, on_a)
    wait_until(lambda: len(fake.requests) >= 1, what="A's model call")
    with b.client() as c:
        queued = c.post(f"/api/follow-up/{session}", json={"content": "and then?"}, headers=ROOT)
        assert queued.status_code == 201, queued.text
        assert c.get(f"/api/follow-up/{session}", headers=ROOT).json()["count"] == 1
    reader.join(60)
    assert text_of(on_a) == "first answer"
    wait_until(lambda: sum(1 for m in _history(a, session) if m["role"] == "assistant") == 2, timeout=30,
          what="the follow-up's turn")
    time.sleep(2 * LEASE_TTL / 3 + 0.5)   # a second sweep on each replica: nothing runs it again
    history = _history(a, session)
    assert [m["content"] for m in history if m["role"] == "user"] == ["first question", [{"type": "text", "text": "and then?"}]] \
        or [m["content"] for m in history if m["role"] == "user"] == ["first question", "and then?"]
    assert [m["content"] for m in history if m["role"] == "assistant"] == ["first answer", "follow-up answer"]
    assert len(fake.requests) == 2
    for replica in (a, b):
        with replica.client() as c:
            assert c.get(f"/api/follow-up/{session}", headers=ROOT).json()["count"] == 0


def test_a_queue_cleared_on_a_is_empty_on_b(pair, fake):
    a, b = pair
    session = f"s-{uuid.uuid4().hex[:8]}"
    fake.reset()
    fake.script(Delay(6.0, then=Text("busy answer")), Text("kept follow-up"))
    on_a: list[tuple[str, Any]] = []
    reader = stream_in_background(a, {"content": "be busy", "sessionId": session}, on_a)
    wait_until(lambda: len(fake.requests) >= 1, what="A's model call")
    with b.client() as cb, a.client() as ca:
        ids = [cb.post(f"/api/follow-up/{session}", json={"content": f"q{i}"}, headers=ROOT).json()["id"]
               for i in range(3)]
        removed = ca.delete(f"/api/follow-up/{session}/{ids[1]}", headers=ROOT)
        assert removed.status_code == 200 and removed.json() == {"removed": True, "id": ids[1]}
        assert [m["id"] for m in cb.get(f"/api/follow-up/{session}", headers=ROOT).json()["messages"]] == [ids[0], ids[2]]
        missing = cb.delete(f"/api/follow-up/{session}/{ids[1]}", headers=ROOT)
        assert missing.status_code == 404 and missing.json()["code"] == "follow_up_message_not_found"
        assert ca.delete(f"/api/follow-up/{session}", headers=ROOT).json() == {"cleared": True, "count": 2}
        assert cb.get(f"/api/follow-up/{session}", headers=ROOT).json() == {"messages": [], "count": 0}
    reader.join(60)
    time.sleep(1.0)
    assert [m["content"] for m in _history(a, session) if m["role"] == "user"] == ["be busy"]
    fake.reset()   # "kept follow-up" was never needed


def test_remember_choice_given_on_a_skips_the_approval_on_b(pair, fake):
    a, b = pair
    session = f"s-{uuid.uuid4().hex[:8]}"
    fake.reset()
    call = ("h1", "search_history", {"query": "anything"})
    fake.script(ToolCalls([call]), Text("searched once"))
    on_a: list[tuple[str, Any]] = []
    reader = stream_in_background(a, {"content": "search", "sessionId": session}, on_a)
    wait_until(lambda: any(name == "approval:request" for name, _ in on_a), what="the approval on A")
    approval_id = next(data for name, data in on_a if name == "approval:request")["approvalId"]
    with a.client() as c:
        answer = c.post(f"/api/approvals/{approval_id}", headers=ROOT, json={"status": "approved", "rememberChoice": True})
        assert answer.status_code == 200, answer.text
    reader.join(60)
    assert text_of(on_a) == "searched once"
    # The same tool in the next turn, on B: no approval asked.
    fake.script(ToolCalls([("h2", "search_history", {"query": "again"})]), Text("searched twice"))
    on_b: list[tuple[str, Any]] = []
    stream_in_background(b, {"content": "search again", "sessionId": session}, on_b).join(60)
    names = [name for name, _ in on_b]
    assert "approval:request" not in names and names[-1] == "run:complete", names
    assert text_of(on_b) == "searched twice"
    assert any(name == "llm:tool-result" for name in names)
    # Another session of the same agent is still asked (the choice is per session).
    other = f"s-{uuid.uuid4().hex[:8]}"
    fake.script(ToolCalls([("h3", "search_history", {"query": "x"})]), Text("unused"))
    on_other: list[tuple[str, Any]] = []
    reader = stream_in_background(b, {"content": "search", "sessionId": other}, on_other)
    wait_until(lambda: any(name == "approval:request" for name, _ in on_other), what="the approval of another session")
    with b.client() as c:
        assert c.post(f"/api/sessions/{other}/cancel", headers=ROOT).status_code == 200
    reader.join(60)
    fake.reset()


def test_a_model_switched_on_a_with_a_key_is_used_by_b_and_the_contributors_too(pair, fake):
    a, b = pair
    session = f"s-{uuid.uuid4().hex[:8]}"
    fake.reset()
    with a.client() as c:
        assert c.post("/api/message-sync", json={"content": "hi", "sessionId": session}, headers=ROOT).status_code == 200
        switched = c.post("/api/llm/switch", headers=ROOT, json={"sessionId": session, "model": "other-model",
                                                                "apiKey": "session-secret-key"})
        assert switched.status_code == 200, switched.text
        added = c.post(f"/api/sessions/{session}/system-prompt/contributors", headers=ROOT,
                       json={"id": "house-style", "content": "Answer in haiku.", "priority": 5})
        assert added.status_code == 200, added.text
    with b.client() as c:
        listed = c.get(f"/api/sessions/{session}/system-prompt/contributors", headers=ROOT).json()["contributors"]
        assert "house-style" in [item["id"] for item in listed]
        done = c.post("/api/message-sync", json={"content": "on b", "sessionId": session}, headers=ROOT)
        assert done.status_code == 200, done.text
    request = fake.last_request
    assert request["json"]["model"] == "other-model"
    assert request["headers"]["authorization"] == "Bearer session-secret-key"
    system = request["json"]["messages"][0]
    assert system["role"] == "system" and "Answer in haiku." in json.dumps(system)
    # The key is nowhere in Redis in plain text.
    import redis
    client = redis.Redis.from_url(redis_url())
    prefix = a.env["SWITCHYARD_REDIS_PREFIX"]
    for key in client.scan_iter(f"{prefix}:*"):
        if client.type(key) == b"string":
            assert b"session-secret-key" not in (client.get(key) or b"")
    # Removed on B, gone on A.
    with b.client() as c:
        c.post(f"/api/sessions/{session}/system-prompt/contributors", headers=ROOT,
               json={"id": "house-style", "enabled": False})
    with a.client() as c:
        listed = c.get(f"/api/sessions/{session}/system-prompt/contributors", headers=ROOT).json()["contributors"]
        assert "house-style" not in [item["id"] for item in listed]


def test_an_agent_wide_contributor_added_on_a_is_listed_and_used_on_b(pair, fake):
    a, b = pair
    fake.reset()
    with a.client() as c:
        added = c.post("/api/system-prompt/contributors", headers=ROOT,
                       json={"id": "tone", "content": "Always answer in French.", "priority": 7})
        assert added.status_code == 200 and added.json()["replaced"] is False
    with b.client() as c:
        listed = c.get("/api/system-prompt/contributors", headers=ROOT).json()["contributors"]
        assert {"id": "tone", "priority": 7} in listed
        again = c.post("/api/system-prompt/contributors", headers=ROOT,
                       json={"id": "tone", "content": "Always answer in German.", "priority": 7})
        assert again.json()["replaced"] is True
    with a.client() as c:
        session = f"s-{uuid.uuid4().hex[:8]}"
        assert c.post("/api/message-sync", json={"content": "hi", "sessionId": session}, headers=ROOT).status_code == 200
    system = json.dumps(fake.last_request["json"]["messages"][0])
    assert "Always answer in German." in system and "French" not in system
    with b.client() as c:
        assert c.post("/api/system-prompt/contributors", headers=ROOT,
                      json={"id": "tone", "enabled": False}).json()["removed"] is True
    with a.client() as c:
        listed = c.get("/api/system-prompt/contributors", headers=ROOT).json()["contributors"]
        assert "tone" not in [item["id"] for item in listed]
        assert c.post("/api/message-sync", json={"content": "again", "sessionId": session},
                      headers=ROOT).status_code == 200
    assert "German" not in json.dumps(fake.last_request["json"]["messages"][0])


def test_an_a2a_task_running_on_a_is_working_on_b_and_b_follows_it_to_its_end(pair, fake):
    a, b = pair
    session = f"s-{uuid.uuid4().hex[:8]}"
    fake.reset()
    fake.script(Delay(4.0, then=Text("the slow answer")))
    on_a: list[tuple[str, Any]] = []
    reader = stream_in_background(a, {"content": "take your time", "sessionId": session}, on_a)
    wait_until(lambda: len(fake.requests) >= 1, what="A's model call")

    def rpc(method: str) -> dict[str, Any]:
        with b.client() as c:
            r = c.post("/jsonrpc", headers=ROOT, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                                       "params": {"id": session}})
        assert r.status_code == 200, r.text
        return r.json()["result"]
    # Polled on B (a load balancer's other replica): working, not "ended without an answer".
    assert rpc("tasks/get")["status"]["state"] == "working"
    body = {"jsonrpc": "2.0", "id": 2, "method": "tasks/resubscribe", "params": {"id": session}}
    with b.client() as c, c.stream("POST", "/jsonrpc", headers=ROOT, json=body) as r:
        assert r.status_code == 200
        results = [data["result"] for _, data in sse_events(r)]
    assert results[0]["kind"] == "task" and results[0]["status"]["state"] == "working"
    artifacts = [x for x in results if x["kind"] == "artifact-update"]
    assert "".join(x["artifact"]["parts"][0]["text"] for x in artifacts) == "the slow answer"
    assert results[-1]["kind"] == "status-update" and results[-1]["final"] is True
    assert results[-1]["status"]["state"] == "completed"
    reader.join(30)
    assert rpc("tasks/get")["status"]["state"] == "completed"


def test_a_session_key_without_a_shared_secret_key_is_refused_in_replica_mode(monkeypatch):
    # An in-process server joined to Redis, without SWITCHYARD_SECRET_KEY: the key could not be
    # read by the other replicas, so it is refused rather than silently not shared.
    from tests.support.security import ROOT as ROOT_HEADERS, live, production
    production(monkeypatch, SWITCHYARD_REDIS_URL=redis_url(), SWITCHYARD_REDIS_PREFIX=new_prefix())
    monkeypatch.delenv("SWITCHYARD_SECRET_KEY", raising=False)
    with live() as server, server.client() as c:
        session = c.post("/api/sessions", headers=ROOT_HEADERS, json={}).json()["session"]["id"]
        refused = c.post("/api/llm/switch", headers=ROOT_HEADERS,
                         json={"sessionId": session, "model": "gpt-4o-mini", "apiKey": "sk-not-shared"})
        assert refused.status_code == 400 and refused.json()["code"] == "session_key_needs_secret_key"
        assert "sk-not-shared" not in refused.text
        # Nothing changed: the session still uses the agent's model.
        current = c.get("/api/llm/current", params={"sessionId": session}, headers=ROOT_HEADERS).json()
        assert current["config"]["model"] != "gpt-4o-mini"


def test_a_follow_up_queued_on_b_survives_b_killed(pair, fake):
    a, b = pair
    session = f"s-{uuid.uuid4().hex[:8]}"
    fake.reset()
    fake.script(Delay(6.0, then=Text("long answer")), Text("after the kill"))
    on_a: list[tuple[str, Any]] = []
    reader = stream_in_background(a, {"content": "long one", "sessionId": session}, on_a)
    wait_until(lambda: len(fake.requests) >= 1, what="A's model call")
    with b.client() as c:
        assert c.post(f"/api/follow-up/{session}", json={"content": "still there?"}, headers=ROOT).status_code == 201
    os.kill(b.process.proc.pid, signal.SIGKILL)
    b.process.proc.wait(10)
    reader.join(60)
    assert text_of(on_a) == "long answer"
    wait_until(lambda: [m["content"] for m in _history(a, session) if m["role"] == "assistant"][-1:] == ["after the kill"],
          timeout=30, what="the follow-up queued on the killed replica to run on A")


def test_an_approval_of_a_killed_replica_leaves_the_listing(pair, fake):
    a, b = pair   # B was killed by the test before: a new B joins, then A is killed
    b = Replica("b2", a.agent_file, dict(a.env)).ready()
    try:
        session = f"s-{uuid.uuid4().hex[:8]}"
        fake.reset()
        fake.script(ToolCalls([("h9", "search_history", {"query": "z"})]), Text("unused"))
        on_a: list[tuple[str, Any]] = []
        stream_in_background(a, {"content": "search", "sessionId": session}, on_a)
        wait_until(lambda: any(name == "approval:request" for name, _ in on_a), what="the approval on A")
        with b.client() as c:
            assert len(c.get("/api/approvals", params={"sessionId": session}, headers=ROOT).json()["approvals"]) == 1
            # Queued on B while A's turn holds the session: it waits for that turn's end.
            assert c.post(f"/api/follow-up/{session}", json={"content": "after the approval"},
                          headers=ROOT).status_code == 201
        fake.reset()
        fake.script(Text("swept follow-up"))
        os.kill(a.process.proc.pid, signal.SIGKILL)
        a.process.proc.wait(10)
        with b.client() as c:
            wait_until(lambda: c.get("/api/approvals", params={"sessionId": session}, headers=ROOT).json()["approvals"] == [],
                  timeout=3 * LEASE_TTL, what="the dead replica's approval to leave the listing")
        # A's turn never ends: once its lease expired, B's sweep starts the follow-up.
        wait_until(lambda: [m["content"] for m in _history(b, session) if m["role"] == "assistant"][-1:] == ["swept follow-up"],
              timeout=30, what="B's sweep to start the follow-up of the dead replica's session")
        history = _history(b, session)
        assert history[1].get("interrupted") == "lost"
        assert [m for m in history if m["role"] == "assistant"][-1]["content"] == "swept follow-up"
    finally:
        b.process.stop()
        fake.reset()
