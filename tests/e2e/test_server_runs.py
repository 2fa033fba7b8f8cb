"""Runs over HTTP with a slow scripted model: busy sessions, disconnects, re-attach, cancel,
restart persistence, and graceful shutdown of the real `switchyard serve` process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import httpx

from tests.support.fake_llm import Text
from tests.support.live_server import serve_agents
from tests.support.net import free_port
from tests.support.sse import sse_events


def agent_config(tmp_path, fake_llm, agent_id="runs"):
    return {"agentId": agent_id,
            "llm": {"provider": "openai-compatible", "model": "fake-model", "baseURL": fake_llm.base_url,
                    "apiKey": "sk-test-0123456789abcdefgh"},
            "storage": {"database": {"type": "sqlite", "path": str(tmp_path / "runs.db")}}}


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_busy_session_is_409_on_sync_and_202_on_stream(tmp_path, fake_llm):
    fake_llm.script(Text("slow answer", delay=1.0))
    with serve_agents(agent_config(tmp_path, fake_llm)) as live, live.client() as c:
        first = threading.Thread(target=lambda: c.post("/api/message-sync", json={"content": "a", "sessionId": "busy"}))
        first.start()
        wait_until(lambda: c.get("/api/sessions/busy/history").json().get("isBusy") if
                   c.get("/api/sessions/busy").status_code == 200 else False)
        r = c.post("/api/message-sync", json={"content": "b", "sessionId": "busy"})
        assert r.status_code == 409 and r.json()["code"] == "session_busy"
        r = c.post("/api/message-stream", json={"content": "b", "sessionId": "busy"})
        assert r.status_code == 202
        assert r.json()["busy"] is True and r.json()["sessionId"] == "busy" and "hint" in r.json()
        # Another session is not held up by the busy one.
        fake_llm.script(Text("other"))
        assert c.post("/api/message-sync", json={"content": "c", "sessionId": "free"}).json()["response"] == "other"
        first.join()


def test_disconnect_mid_stream_keeps_the_run_and_reattach_sees_it(tmp_path, fake_llm):
    fake_llm.script(Text("one two three four five six", chunks=6, chunk_delay=0.25))
    with serve_agents(agent_config(tmp_path, fake_llm)) as live, live.client() as c:
        with c.stream("POST", "/api/message-stream", json={"content": "go", "sessionId": "dc"}) as r:
            for line in r.iter_lines():
                if line.startswith("event: llm:chunk"):
                    break  # leave after the first chunk: the client disconnects
        # Re-attach from another client while the run is still going.
        with live.client() as other, other.stream("GET", "/api/sessions/dc/events") as r:
            assert r.status_code == 200
            events = sse_events(r)
        names = [n for n, _ in events]
        assert names[-1] == "run:complete" and "llm:response" in names
        assert names[0] == "llm:thinking"  # re-attach replays the running turn from its start
        history = c.get("/api/sessions/dc/history").json()
        assert history["history"][-1]["content"] == "one two three four five six"
        assert history["isBusy"] is False


def test_cancel_over_http(tmp_path, fake_llm):
    fake_llm.script(Text("a long slow answer that will be cut", chunks=8, chunk_delay=0.3))
    with serve_agents(agent_config(tmp_path, fake_llm)) as live, live.client() as c:
        assert c.post("/api/message", json={"content": "go", "sessionId": "cx"}).status_code == 202
        wait_until(lambda: c.get("/api/sessions/cx/history").json()["isBusy"])
        time.sleep(0.5)
        r = c.post("/api/sessions/cx/cancel", json={"clearQueue": True})
        assert r.json()["cancelled"] is True and r.json()["queueCleared"] is True
        history = c.get("/api/sessions/cx/history").json()
        assert history["isBusy"] is False
        assert history["history"][-1]["finishReason"] == "cancelled"


def test_history_survives_a_server_restart(tmp_path, fake_llm):
    fake_llm.script(Text("stored answer"))
    with serve_agents(agent_config(tmp_path, fake_llm)) as live, live.client() as c:
        assert c.post("/api/message-sync", json={"content": "keep this", "sessionId": "p"}).status_code == 200
    with serve_agents(agent_config(tmp_path, fake_llm)) as live, live.client() as c:
        history = c.get("/api/sessions/p/history").json()["history"]
        assert [m["content"] for m in history] == ["keep this", "stored answer"]
        assert "p" in {s["id"] for s in c.get("/api/sessions").json()["sessions"]}


def test_sigterm_lets_a_running_turn_finish_and_exits_zero(tmp_path, fake_llm):
    fake_llm.script(Text("finished during shutdown", delay=1.0))
    agent_file = tmp_path / "agent.yml"
    agent_file.write_text(json.dumps(agent_config(tmp_path, fake_llm)))  # JSON is YAML
    port = free_port()
    env = {**os.environ, "SWITCHYARD_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([sys.executable, "-m", "switchyard.cli", "serve", "--agent", str(agent_file),
                             "--port", str(port), "--shutdown-grace", "5"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _ok(base + "/health"), timeout=20)
        result: dict = {}
        sender = threading.Thread(target=lambda: result.update(
            r=httpx.post(base + "/api/message-sync", json={"content": "x", "sessionId": "g"}, timeout=20)))
        sender.start()
        time.sleep(0.4)
        proc.send_signal(signal.SIGTERM)
        sender.join(20)
        assert result["r"].status_code == 200 and result["r"].json()["response"] == "finished during shutdown"
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.stdout.read() if proc.stdout else ""
    assert "Traceback" not in output, output


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_serve_refuses_a_public_bind_without_a_key(tmp_path):
    env = {**os.environ, "SWITCHYARD_HOME": str(tmp_path / "home")}
    for var in ("SWITCHYARD_API_KEY", "DEXTO_SERVER_API_KEY"):
        env.pop(var, None)
    result = subprocess.run([sys.executable, "-m", "switchyard.cli", "serve", "--host", "0.0.0.0",
                             "--port", str(free_port())], capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode == 2
    assert "refusing to bind 0.0.0.0" in result.stderr


def test_quiet_streams_get_keepalive_comments(tmp_path, fake_llm, monkeypatch):
    import switchyard.server.sse as sse
    monkeypatch.setattr(sse, "KEEPALIVE_SECONDS", 0.2)
    fake_llm.script(Text("after a pause", delay=1.0))
    with serve_agents(agent_config(tmp_path, fake_llm)) as live, live.client() as c:
        with c.stream("POST", "/api/message-stream", json={"content": "wait", "sessionId": "ka"}) as r:
            lines = list(r.iter_lines())
    first_chunk = next(i for i, line in enumerate(lines) if line.startswith("event: llm:chunk"))
    assert ": keepalive" in lines[:first_chunk]
    assert lines[-2].startswith("data:") and "run:complete" in lines[-3]


def test_run_and_chat_commands(tmp_path):
    agent = tmp_path / "echo.yml"
    agent.write_text("agentId: cli\nllm: {provider: echo}\n")
    env = {**os.environ, "SWITCHYARD_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-m", "switchyard.cli", "run", "hello there", "--agent", str(agent),
                             "--session", "cli-s"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Echo: hello there"
    chat = subprocess.run([sys.executable, "-m", "switchyard.cli", "chat", "--agent", str(agent), "--session", "cli-s"],
                          input="second line\n/exit\n", capture_output=True, text=True, timeout=60, env=env)
    assert chat.returncode == 0, chat.stderr
    assert "Echo: second line" in chat.stdout
    # The chat continued the run's session: both turns are in its history.
    again = subprocess.run([sys.executable, "-m", "switchyard.cli", "run", "/tool none {}", "--agent", str(agent),
                            "--session", "cli-s"], capture_output=True, text=True, timeout=60, env=env)
    assert again.returncode == 0
    import sqlite3
    db = sqlite3.connect(tmp_path / "home" / "data" / "cli.db")
    contents = [row[0] for row in db.execute("select json_extract(body, '$.content') from messages "
                                             "where session_id = 'cli-s' order by seq")]
    assert contents[:4] == ["hello there", "Echo: hello there", "second line", "Echo: second line"]


def test_a_routed_run_begins_with_its_routing_decision_also_on_reattach(tmp_path, fake_llm, monkeypatch):
    monkeypatch.setenv("SWITCHYARD_ROUTER_SEMANTIC", "off")
    fake_llm.script(Text("routed and slow", chunks=4, chunk_delay=0.25), Text("again"))
    configs = []
    for agent_id, keywords in (("billing", ["invoice", "refund"]), ("ops", ["kubernetes", "deployment"])):
        config = agent_config(tmp_path, fake_llm, agent_id)
        config["storage"]["database"]["path"] = str(tmp_path / f"{agent_id}.db")
        config["routing"] = {"keywords": keywords}
        configs.append(config)
    with serve_agents(*configs) as live, live.client() as c:
        with c.stream("POST", "/api/message-stream",
                      json={"content": "refund my invoice", "agentId": "auto", "sessionId": "rt"}) as r:
            for line in r.iter_lines():
                if line.startswith("event: llm:chunk"):
                    break  # leave mid-run
        with live.client() as other, other.stream("GET", "/api/sessions/rt/events",
                                                  params={"agentId": "billing"}) as r:
            assert r.status_code == 200
            events = sse_events(r)
        assert [n for n, _ in events][:2] == ["routing:decision", "llm:thinking"]
        assert events[0][1]["agentId"] == "billing" and events[0][1]["sessionId"] == "rt"
        assert events[0][1]["ranked"][0]["agentId"] == "billing" and events[-1][0] == "run:complete"

        # Without a session id the run's new id is the decision's too (every frame names it).
        with c.stream("POST", "/api/message-stream", json={"content": "refund please", "agentId": "auto"}) as r:
            events = sse_events(r)
        assert events[0][0] == "routing:decision"
        assert len({data["sessionId"] for _, data in events}) == 1 and events[0][1]["sessionId"]
