"""Two real `switchyard serve` processes on loopback, one Postgres database and one Redis: the
shared semantics of docs/production.md, as a client sees them.

A is started, then B; both serve the same agent file (Postgres storage), with auth on, the
same SWITCHYARD_DATABASE_URL (keys, audit) and SWITCHYARD_REDIS_URL under a key prefix of this
run's own. The scripted fake LLM runs in this process and answers both. The last test kills A
with SIGKILL, so it runs last.
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
from tests.support.replicas import fake  # noqa: F401 - fixture
from tests.support.replicas import (ROOT, SHARED_BACKENDS, Replica, new_prefix, replica_env, stream_in_background,
                                    text_of, wait_until)
from tests.support.sse import iter_sse

pytestmark = SHARED_BACKENDS
LEASE_TTL = 4.0


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, fake: FakeLLM) -> Iterator[tuple[Replica, Replica]]:
    folder = tmp_path_factory.mktemp("replicas")
    agent = {"agentId": "replicated", "systemPrompt": "You are a test agent.",
             "llm": {"provider": "openai-compatible", "model": "fake-model", "baseURL": fake.base_url, "apiKey": "x"},
             "storage": {"database": {"type": "postgres", "url": postgres_url()}},
             "permissions": {"mode": "manual", "toolPolicies": {"alwaysAllow": ["ask_user"]}},
             "tools": [{"type": "builtin-tools", "enabledTools": ["ask_user"]}]}
    agent_file = folder / "agent.yml"
    agent_file.write_text(json.dumps(agent))     # JSON is YAML
    replicas = []
    for name in ("a", "b"):
        # Keys and audit: the agents' Postgres (the default).
        env = replica_env(tmp_path_factory.mktemp(f"home-{name}"), new_prefix(),
                          SWITCHYARD_SESSION_LEASE_TTL=str(LEASE_TTL), SWITCHYARD_AUTH_FAILURE_LIMIT="1000/minute")
        replicas.append(env)
    # One deployment: the same prefix for both.
    replicas[1]["SWITCHYARD_REDIS_PREFIX"] = replicas[0]["SWITCHYARD_REDIS_PREFIX"]
    a = Replica("a", agent_file, replicas[0]).ready()   # A migrates the new database first
    b = Replica("b", agent_file, replicas[1]).ready()
    for replica in (a, b):
        # A first turn loads the model's SDK (seconds of a busy event loop on a loaded machine,
        # longer than the tests' short lease TTL): done here, not during a test's turn.
        with replica.client() as c:
            assert c.post("/api/message-sync", json={"content": "warm up"}, headers=ROOT).status_code == 200
    yield a, b
    for replica in (a, b):
        replica.process.stop()



def test_a_stream_started_on_a_is_reattached_on_b_and_the_session_is_busy_on_both(pair, fake):
    a, b = pair
    session = f"s-{uuid.uuid4().hex[:8]}"
    fake.script(Text("one two three four five six", chunks=6, delay=1.0, chunk_delay=0.8))
    on_a: list[tuple[str, Any]] = []
    reader = stream_in_background(a, {"content": "count slowly", "sessionId": session}, on_a)
    wait_until(lambda: any(name == "llm:thinking" for name, _ in on_a), what="the run to start on A")
    with b.client() as c:
        # Busy on B while A runs it: 409 for message-sync, 202 busy for message-stream.
        sync = c.post("/api/message-sync", json={"content": "me too", "sessionId": session}, headers=ROOT)
        assert sync.status_code == 409 and sync.json()["code"] == "session_busy"
        stream = c.post("/api/message-stream", json={"content": "me too", "sessionId": session}, headers=ROOT)
        assert stream.status_code == 202 and stream.json()["busy"] is True
        assert c.get(f"/api/sessions/{session}/load", headers=ROOT).json()["session"]["isBusy"] is True
        # Re-attached on B: the turn from its start, to its end.
        with c.stream("GET", f"/api/sessions/{session}/events", headers=ROOT) as r:
            assert r.status_code == 200
            on_b = list(iter_sse(r))
    reader.join(30)
    assert on_b[0][0] == on_a[0][0] and on_b[-1][0] == on_a[-1][0] == "run:complete"
    assert text_of(on_b) == text_of(on_a) == "one two three four five six"
    with b.client() as c:
        # Free on B the moment A's stream ended; B continues the conversation.
        after = c.post("/api/message-sync", json={"content": "and now?", "sessionId": session}, headers=ROOT)
        assert after.status_code == 200, after.text
        history = c.get(f"/api/sessions/{session}/history", headers=ROOT).json()["history"]
    assert [m["content"] for m in history if m["role"] == "user"] == ["count slowly", "and now?"]
    with a.client() as c:
        events = c.get(f"/api/sessions/{session}/events", headers=ROOT)
        assert events.status_code == 409 and events.json()["code"] == "session_not_busy"


def test_an_approval_requested_on_a_is_answered_on_b(pair, fake):
    a, b = pair
    session = f"s-{uuid.uuid4().hex[:8]}"
    fake.script(ToolCalls([("ask1", "ask_user", {"question": "Which colour?"})]), Text("blue it is"))
    on_a: list[tuple[str, Any]] = []
    reader = stream_in_background(a, {"content": "pick a colour", "sessionId": session}, on_a)
    wait_until(lambda: any(name == "approval:request" for name, _ in on_a), what="the approval request on A")
    request = next(data for name, data in on_a if name == "approval:request")
    approval_id = request["approvalId"]
    with b.client() as c:
        listed = c.get("/api/approvals", params={"sessionId": session}, headers=ROOT).json()["approvals"]
        assert [p["approvalId"] for p in listed] == [approval_id]
        answer = c.post(f"/api/approvals/{approval_id}", headers=ROOT,
                        json={"status": "approved", "formData": {"colour": "blue"}})
        assert answer.status_code == 200 and answer.json()["status"] == "approved"
        again = c.post(f"/api/approvals/{approval_id}", headers=ROOT, json={"status": "approved"})
    reader.join(30)
    names = [name for name, _ in on_a]
    assert "approval:response" in names and names[-1] == "run:complete"
    assert text_of(on_a) == "blue it is"
    tool_result = next(data for name, data in on_a if name == "llm:tool-result")
    assert "blue" in json.dumps(tool_result)
    # Once answered, it is gone everywhere.
    assert again.status_code == 404
    with a.client() as c:
        assert c.get("/api/approvals", params={"sessionId": session}, headers=ROOT).json()["approvals"] == []


def test_a_run_on_a_is_cancelled_from_b(pair, fake):
    a, b = pair
    session = f"s-{uuid.uuid4().hex[:8]}"
    fake.script(Text("a b c d e f g h i j", chunks=10, chunk_delay=1.0))
    on_a: list[tuple[str, Any]] = []
    reader = stream_in_background(a, {"content": "talk long", "sessionId": session}, on_a)
    wait_until(lambda: any(name == "llm:chunk" for name, _ in on_a), what="the first chunk on A")
    with b.client() as c:
        cancelled = c.post(f"/api/sessions/{session}/cancel", headers=ROOT)
        assert cancelled.status_code == 200 and cancelled.json()["cancelled"] is True
        assert c.get(f"/api/sessions/{session}/load", headers=ROOT).json()["session"]["isBusy"] is False
    reader.join(30)
    assert on_a[-1][0] == "run:complete" and on_a[-1][1]["finishReason"] == "cancelled"
    assert len(text_of(on_a)) < len("a b c d e f g h i j")


def test_a_key_revoked_on_a_is_refused_on_b_and_its_rate_limit_is_shared(pair):
    a, b = pair
    name = f"k{uuid.uuid4().hex[:8]}"
    with a.client() as ca, b.client() as cb:
        created = ca.post("/api/keys", headers=ROOT, json={"name": name, "scopes": ["read"], "rateLimit": "4/minute"})
        assert created.status_code == 201, created.text
        key = {"authorization": f"Bearer {created.json()['key']}"}
        # Created on A, accepted on B; four requests a minute, counted across both.
        codes = [client.get("/api/sessions", headers=key).status_code for client in (ca, cb, ca, cb, ca, cb)]
        assert codes[:4] == [200, 200, 200, 200] and codes[4:] == [429, 429]
        assert ca.delete(f"/api/keys/{name}", headers=ROOT).status_code == 200
        wait_until(lambda: cb.get("/api/sessions", headers=key).status_code == 401, timeout=10,
              what="B to refuse the revoked key")


def test_the_failed_login_throttle_is_shared(monkeypatch):
    # In-process servers (tests/support/security.py) sharing a Redis, like the pair above.
    from tests.support.security import bearer, live, production
    prefix = new_prefix()
    production(monkeypatch, SWITCHYARD_AUTH_FAILURE_LIMIT="3/minute", SWITCHYARD_REDIS_URL=redis_url(),
               SWITCHYARD_REDIS_PREFIX=prefix, SWITCHYARD_RATE_LIMIT_NAMESPACE=prefix)
    with live() as one, live() as two, one.client() as a, two.client() as b:
        codes = [client.get("/api/sessions", headers=bearer(f"guess-{i}")).status_code
                 for i, client in enumerate((a, b, a))]
        assert codes == [401, 401, 401]
        blocked = b.get("/api/sessions", headers=bearer("guess-4"))
        assert blocked.status_code == 429 and blocked.json()["code"] == "auth_throttled"


def test_the_run_cap_holds_across_replicas(pair, fake):
    a, b = pair
    name = f"c{uuid.uuid4().hex[:8]}"
    with a.client() as ca, b.client() as cb:
        key = {"authorization": "Bearer " + ca.post("/api/keys", headers=ROOT,
                                                     json={"name": name, "scopes": ["chat"]}).json()["key"]}
    # The default cap with auth on is 8 runs per key: 8 slow runs on A, then one on B is refused.
    fake.script(*[Delay(3.0, then=Text("slow")) for _ in range(8)])
    with a.client() as ca:
        for i in range(8):
            accepted = ca.post("/api/message", json={"content": f"run {i}"}, headers=key)
            assert accepted.status_code == 202, accepted.text
    with b.client() as cb:
        refused = cb.post("/api/message-sync", json={"content": "one more"}, headers=key)
        assert refused.status_code == 429 and refused.json()["code"] == "too_many_runs"
    wait_until(lambda: fake.pending == 0, what="the slow runs to reach the model")
    time.sleep(3.5)
    with b.client() as cb:
        wait_until(lambda: cb.post("/api/message-sync", json={"content": "now"}, headers=key).status_code == 200,
              timeout=20, what="a place in the cap once the runs ended")


def test_b_keeps_serving_after_a_is_killed_mid_run_and_the_session_is_usable_after_the_lease(pair, fake):
    a, b = pair
    session = f"s-{uuid.uuid4().hex[:8]}"
    fake.script(Delay(10.0, then=Text("never heard")))
    on_a: list[tuple[str, Any]] = []
    stream_in_background(a, {"content": "a long one", "sessionId": session}, on_a)
    wait_until(lambda: any(name == "llm:thinking" for name, _ in on_a), what="the run to start on A")
    wait_until(lambda: fake.pending == 0, what="A's call to reach the model")
    os.kill(a.process.proc.pid, signal.SIGKILL)
    a.process.proc.wait(10)
    killed_at = time.monotonic()
    with b.client() as c:
        busy = c.post("/api/message-sync", json={"content": "hello?", "sessionId": session}, headers=ROOT)
        if time.monotonic() - killed_at < LEASE_TTL:
            assert busy.status_code == 409   # A's lease has not expired yet
        wait_until(lambda: c.post("/api/message-sync", json={"content": "hello again", "sessionId": session},
                             headers=ROOT).status_code == 200, timeout=20, what="the lease to expire")
        history = c.get(f"/api/sessions/{session}/history", headers=ROOT).json()["history"]
        assert c.get("/health").status_code == 200
    # A's lost turn is marked in the history, then B's turn follows it.
    assert history[0]["content"] == "a long one"
    assert history[1]["role"] == "assistant" and history[1].get("interrupted") == "lost"
    assert history[-2]["content"] == "hello again" and history[-1]["role"] == "assistant"
