"""Issue 17, denial of service: the per-key run cap counts queued, background and orphaned
runs; the session pool is fair per key and, when full, answers 503 with Retry-After; JSON-RPC
batches are bounded; upstream calls per provider are bounded with a clear queue timeout."""

from __future__ import annotations

import asyncio

import httpx

from tests.support.live_server import LiveServer
from tests.support.security import ROOT, ScriptedLLM, bearer, create_key, production


def _app(llm, max_sessions: int = 100):
    from switchyard.config import parse_agent
    from switchyard.runtime.agent import Agent
    from switchyard.runtime.host import AgentHost
    from switchyard.server.app import create_app
    config = {"agentId": "dos", "sessions": {"maxSessions": max_sessions},
              "storage": {"database": {"type": "in-memory"}}}
    return create_app(AgentHost([Agent(parse_agent(config, env={}), llm_client=llm)]))


class Gate:
    """A model whose turns wait until the test opens the gate: runs stay in progress for as
    long as the test needs, with no timing involved."""

    def __init__(self) -> None:
        self.opened: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def model(self):
        from switchyard.llm.base import Finish, TextDelta
        from switchyard.llm.function import FunctionModel

        async def reply(messages, tools, info):
            if self.opened is None:
                self.opened, self.loop = asyncio.Event(), asyncio.get_running_loop()
            await self.opened.wait()
            yield TextDelta("done")
            yield Finish("stop")

        return FunctionModel(reply, provider="gate", model="gate-1")

    def open(self) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.opened.set)


def _serve(gate: Gate, monkeypatch, cap: str = "3", max_sessions: int = 100) -> LiveServer:
    production(monkeypatch, SWITCHYARD_MAX_CONCURRENT_RUNS_PER_KEY=cap, SWITCHYARD_RATE_LIMIT="off",
               SWITCHYARD_RATE_LIMIT_PER_ADDRESS="off")
    return LiveServer(lambda: _app(gate.model(), max_sessions)).start()


def _session_ids(c: httpx.Client, headers):
    """A key's sessions by a name the test chooses: a non-admin key cannot name a new session
    (SECURITY.md, sessions), so each is made with POST /api/sessions first."""
    made: dict[str, str] = {}

    def sid(name: str) -> str:
        if name not in made:
            response = c.post("/api/sessions", headers=headers, json={})
            assert response.status_code == 201, response.text
            made[name] = response.json()["session"]["id"]
        return made[name]
    return sid


def _busy(c: httpx.Client, sid: str, headers) -> bool:
    return c.get(f"/api/sessions/{sid}/history", headers=headers).json().get("isBusy", False)


def test_fire_and_forget_runs_count_against_the_key_until_they_end(monkeypatch):
    gate = Gate()
    server = _serve(gate, monkeypatch)
    try:
        with server.client() as c:
            alice = bearer(create_key(c, "alice", ["chat"]))
            bob = bearer(create_key(c, "bob", ["chat"]))
            a, b = _session_ids(c, alice), _session_ids(c, bob)
            codes = [c.post("/api/message", headers=alice, json={"content": "hi", "sessionId": a(f"a{i}")})
                     for i in range(10)]
            assert [r.status_code for r in codes] == [202] * 3 + [429] * 7
            over = codes[3]
            assert over.json()["code"] == "too_many_runs" and over.headers["retry-after"] == "1"
            # A turn queued behind a busy session counts too.
            assert c.post("/api/message", headers=alice, json={"content": "again", "sessionId": a("a0")}).status_code == 429
            # Another key is not starved.
            assert c.post("/api/message", headers=bob, json={"content": "hi", "sessionId": b("b0")}).status_code == 202
            gate.open()
            for i in range(3):
                _wait(lambda i=i: not _busy(c, a(f"a{i}"), alice))
            assert c.post("/api/message", headers=alice, json={"content": "hi", "sessionId": a("a9")}).status_code == 202
    finally:
        gate.open()
        server.stop()


def test_dropped_streams_keep_counting_while_their_runs_go_on(monkeypatch):
    gate = Gate()
    server = _serve(gate, monkeypatch)
    try:
        with server.client() as c:
            carol = bearer(create_key(c, "carol", ["chat"]))
            s = _session_ids(c, carol)
            for i in range(3):
                with c.stream("POST", "/api/message-stream", headers=carol,
                              json={"content": "hi", "sessionId": s(f"s{i}")}) as stream:
                    assert stream.status_code == 200
                    next(stream.iter_lines())      # the stream is open; then the client leaves
            _wait(lambda: all(_busy(c, s(f"s{i}"), carol) for i in range(3)))
            refused = c.post("/api/message-stream", headers=carol, json={"content": "hi", "sessionId": s("s3")})
            assert refused.status_code == 429 and refused.json()["code"] == "too_many_runs"
            # JSON-RPC: each message/send counts as one run.
            rpc = c.post("/jsonrpc", headers=carol, json={
                "jsonrpc": "2.0", "id": 1, "method": "message/send",
                "params": {"message": {"role": "user", "messageId": "m1", "parts": [{"kind": "text", "text": "x"}]},
                           "configuration": {"blocking": False}}})
            assert "error" in rpc.json() and "runs in progress" in rpc.json()["error"]["message"]
    finally:
        gate.open()
        server.stop()


def test_session_pool_is_fair_per_key_and_full_is_503(monkeypatch):
    gate = Gate()
    server = _serve(gate, monkeypatch, cap="0", max_sessions=4)
    try:
        with server.client() as c:
            keys = {name: bearer(create_key(c, name, ["chat"])) for name in ("dave", "erin", "frank")}
            ids = {name: _session_ids(c, headers) for name, headers in keys.items()}
            send = lambda who, sid: c.post("/api/message", headers=keys[who],  # noqa: E731
                                           json={"content": "hi", "sessionId": ids[who](sid)})
            assert [send("dave", f"d{i}").status_code for i in range(2)] == [202, 202]
            share = send("dave", "d2")
            assert share.status_code == 429 and share.json()["code"] == "session_share_exceeded"
            assert share.headers["retry-after"] == "1"
            assert [send("erin", f"e{i}").status_code for i in range(2)] == [202, 202]
            full = send("frank", "f0")
            assert full.status_code == 503 and full.json()["code"] == "session_max_sessions_exceeded"
            assert full.headers["retry-after"] == "1"
            gate.open()
            _wait(lambda: not _busy(c, ids["dave"]("d0"), keys["dave"]) and not _busy(c, ids["erin"]("e1"), keys["erin"]))
            assert send("frank", "f0").status_code == 202
    finally:
        gate.open()
        server.stop()


def _wait(predicate, timeout: float = 15.0) -> None:
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


# --- JSON-RPC batches (item 2) -----------------------------------------------------------

def _list_call(i: int, **params) -> dict:
    return {"jsonrpc": "2.0", "id": i, "method": "tasks/list", "params": params}


def test_jsonrpc_batches_are_bounded(monkeypatch):
    from switchyard.server.protocols import a2a_batch
    production(monkeypatch, SWITCHYARD_RATE_LIMIT="off", SWITCHYARD_RATE_LIMIT_PER_ADDRESS="off")
    server = LiveServer(lambda: _app(ScriptedLLM("an answer " * 20))).start()
    try:
        with server.client() as c:
            for i in range(16):   # one session with a long history (32 messages)
                assert c.post("/api/message-sync", headers=ROOT, json={"content": f"q{i}", "sessionId": "long"}).status_code == 200
            # Too many calls in one batch: refused whole, nothing run.
            big = c.post("/jsonrpc", headers=ROOT, json=[_list_call(i) for i in range(21)])
            assert big.status_code == 200 and big.json()["error"]["code"] == -32600
            assert "over the limit of 20" in big.json()["error"]["message"]
            # A listing pages its work and caps each task's history.
            one = c.post("/jsonrpc", headers=ROOT, json=_list_call(1)).json()["result"]
            assert len(one["tasks"][0]["history"]) == 20
            too_long = c.post("/jsonrpc", headers=ROOT, json=_list_call(1, historyLength=10_000)).json()
            assert too_long["error"]["code"] == -32602 and "historyLength" in too_long["error"]["message"]
            too_big = c.post("/jsonrpc", headers=ROOT, json=_list_call(1, pageSize=10_000)).json()
            assert too_big["error"]["code"] == -32602 and "pageSize" in too_big["error"]["message"]
            # The answers stop growing at the response budget: later calls are errors, not run.
            single = len(c.post("/jsonrpc", headers=ROOT, json=[_list_call(0)]).content)
            monkeypatch.setattr(a2a_batch, "MAX_RESPONSE_BYTES", single * 3)
            answers = c.post("/jsonrpc", headers=ROOT, json=[_list_call(i) for i in range(10)]).json()
            assert len(answers) == 10
            assert sum("result" in a for a in answers) == 4
            assert all(a["error"]["code"] == -32603 and "Response too large" in a["error"]["message"]
                       for a in answers[4:])
            assert [a["id"] for a in answers] == list(range(10))
    finally:
        server.stop()


def test_each_batch_entry_counts_against_the_rate_limit(monkeypatch):
    production(monkeypatch, SWITCHYARD_RATE_LIMIT="8/minute", SWITCHYARD_RATE_LIMIT_PER_ADDRESS="off")
    server = LiveServer(lambda: _app(ScriptedLLM())).start()
    try:
        with server.client() as c:
            key = bearer(create_key(c, "batcher", ["chat"]))
            assert c.post("/jsonrpc", headers=key, json=[_list_call(i) for i in range(5)]).status_code == 200
            over = c.post("/jsonrpc", headers=key, json=[_list_call(i) for i in range(5)])
            assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1
            assert "counts as 5 requests" in over.json()["message"]
    finally:
        server.stop()


# --- upstream concurrency per provider (item 3) -----------------------------------------

def test_upstream_calls_per_provider_are_bounded_with_a_clear_queue_timeout(monkeypatch):
    gate = Gate()
    production(monkeypatch, SWITCHYARD_MAX_CONCURRENT_RUNS_PER_KEY="0", SWITCHYARD_RATE_LIMIT="off",
               SWITCHYARD_RATE_LIMIT_PER_ADDRESS="off", SWITCHYARD_LLM_MAX_CONCURRENCY="2",
               SWITCHYARD_LLM_QUEUE_TIMEOUT="0.2")
    server = LiveServer(lambda: _app(gate.model())).start()
    try:
        with server.client() as c:
            for i in range(2):   # two calls hold the provider's two places
                assert c.post("/api/message", headers=ROOT, json={"content": "hi", "sessionId": f"u{i}"}).status_code == 202
            _wait(lambda: gate.opened is not None)
            third = c.post("/api/message-sync", headers=ROOT, json={"content": "hi", "sessionId": "u2"})
            assert third.status_code == 503, third.text
            body = third.json()
            assert body["code"] == "llm_queue_timeout" and third.headers["retry-after"] == "1"
            assert "SWITCHYARD_LLM_MAX_CONCURRENCY" in body["message"] and "2 calls" in body["message"]
            gate.open()
            _wait(lambda: not _busy(c, "u0", ROOT) and not _busy(c, "u1", ROOT))
            again = c.post("/api/message-sync", headers=ROOT, json={"content": "hi", "sessionId": "u3"})
            assert again.status_code == 200 and again.json()["response"] == "done"
    finally:
        gate.open()
        server.stop()
