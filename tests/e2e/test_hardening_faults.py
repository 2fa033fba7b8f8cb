"""Issue 17, integrity and faults: a storage error answers 503 and leaves the keep-alive
connection usable; interrupted turns are marked in history and for the model."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import httpx

from tests.e2e.test_server_runs import _ok, agent_config, wait_until
from tests.support.fake_llm import Broken, Error, Text
from tests.support.live_server import serve_agents
from tests.support.net import free_port
from tests.support.security import ScriptedLLM


def _local_port(response) -> int:
    return response.extensions["network_stream"].get_extra_info("client_addr")[1]


def test_storage_error_is_503_and_keeps_the_connection(tmp_path):
    db = tmp_path / "agent.db"
    config = {"agentId": "faulty", "storage": {"database": {"type": "sqlite", "path": str(db)}}}
    with serve_agents(config, llm_client_factory=ScriptedLLM) as server, server.client() as c:
        first = c.get("/api/sessions")
        assert first.status_code == 200, first.text
        # A real storage fault behind the server's back: its table is gone.
        with sqlite3.connect(db) as other:
            other.execute("PRAGMA foreign_keys=OFF")
            other.execute("DROP TABLE messages")
            other.execute("DROP TABLE sessions")
        failed = c.get("/api/sessions")
        assert failed.status_code == 503, failed.text
        assert failed.json()["code"] == "store_unavailable"
        assert "OperationalError" in failed.json()["message"]
        assert "sessions" not in failed.json()["message"]   # no SQL in the answer
        assert failed.headers["retry-after"] == "1"
        # The next request goes over the same connection and is answered.
        after = c.get("/health")
        assert after.status_code == 200
        assert _local_port(after) == _local_port(failed)


def test_sqlite_connections_do_not_memory_map_the_database(tmp_path):
    # SQLite builds differ in their default (SQLITE_DEFAULT_MMAP_SIZE; 0 in most, not all):
    # the store sets it, so every build runs without memory-mapped database I/O.
    import asyncio

    from switchyard.store import Store

    async def check() -> int:
        store = Store(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
        await store.open()
        try:
            with store.db.sync_engine.connect() as conn:
                return conn.exec_driver_sql("PRAGMA mmap_size").scalar()
        finally:
            await store.close()

    assert asyncio.run(check()) == 0


def test_a_sigbus_in_the_server_is_reported_not_silent(tmp_path):
    agent_file = tmp_path / "agent.yml"
    agent_file.write_text("agentId: bus\nllm: {provider: echo}\n")
    port = free_port()
    env = {**os.environ, "SWITCHYARD_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([sys.executable, "-m", "switchyard.cli", "serve", "--agent", str(agent_file),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env, text=True)
    try:
        wait_until(lambda: _ok(f"http://127.0.0.1:{port}/health"), timeout=20)
        proc.send_signal(signal.SIGBUS)
        proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.stdout.read() if proc.stdout else ""
    assert proc.returncode == -signal.SIGBUS
    assert "Fatal Python error: Bus error" in output, output
    assert "most recent call first" in output


# --- interrupted turns ------------------------------------------------------------------


def _roles(history):
    return [m["role"] for m in history]


def test_a_dropped_upstream_connection_stores_an_interrupted_partial(tmp_path, fake_llm):
    fake_llm.script(Broken("half of an answer", chunks=2, after_chunks=1))
    with serve_agents(agent_config(tmp_path, fake_llm)) as server, server.client() as c:
        response = c.post("/api/message-sync", json={"content": "go", "sessionId": "drop"})
        assert response.status_code >= 400 or response.json().get("finishReason") == "error", response.text
        last = c.get("/api/sessions/drop/history").json()["history"][-1]
    assert last["role"] == "assistant" and last["content"] == "half of a"
    assert last["finishReason"] == "error"
    assert last["interrupted"] == "upstream" and last["partial"] is True


def test_a_user_cancel_is_marked_apart_from_a_failure(tmp_path, fake_llm):
    fake_llm.script(Text("one two three four five six", chunks=6, chunk_delay=0.3))
    with serve_agents(agent_config(tmp_path, fake_llm)) as server, server.client() as c:
        assert c.post("/api/message", json={"content": "go", "sessionId": "cx"}).status_code == 202
        wait_until(lambda: len(fake_llm.requests) == 1, timeout=10)
        time.sleep(0.5)   # a piece or two of the answer have streamed
        assert c.post("/api/sessions/cx/cancel").status_code == 200
        wait_until(lambda: not c.get("/api/sessions/cx/history").json()["isBusy"], timeout=10)
        last = c.get("/api/sessions/cx/history").json()["history"][-1]
    assert last["finishReason"] == "cancelled"
    assert last["interrupted"] == "cancelled" and last["partial"] is True


def test_a_turn_lost_to_kill_9_is_marked_and_never_doubles_user_messages(tmp_path, fake_llm):
    fake_llm.script(Text("never delivered", delay=30))
    config = agent_config(tmp_path, fake_llm)
    agent_file = tmp_path / "agent.yml"
    agent_file.write_text(json.dumps(config))  # JSON is YAML
    port = free_port()
    env = {**os.environ, "SWITCHYARD_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([sys.executable, "-m", "switchyard.cli", "serve", "--agent", str(agent_file),
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _ok(base + "/health"), timeout=20)
        assert httpx.post(base + "/api/message", json={"content": "first question", "sessionId": "k9"},
                          timeout=10).status_code == 202
        wait_until(lambda: len(fake_llm.requests) == 1, timeout=10)   # the model is answering
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    fake_llm.reset()

    fake_llm.script(Text("second answer"))
    with serve_agents(config) as server, server.client() as c:
        # On load the lost turn shows in history ...
        history = c.get("/api/sessions/k9/history").json()["history"]
        assert _roles(history) == ["user", "assistant"]
        assert history[1]["interrupted"] == "lost" and "interrupted" in history[1]["content"]
        # ... and the model sees it: no two user messages in a row.
        response = c.post("/api/message-sync", json={"content": "second question", "sessionId": "k9"})
        assert response.status_code == 200 and response.json()["response"] == "second answer"
        sent = [m["role"] for m in fake_llm.last_request["json"]["messages"] if m["role"] != "system"]
        assert sent == ["user", "assistant", "user"]
        assert _roles(c.get("/api/sessions/k9/history").json()["history"]) == ["user", "assistant", "user",
                                                                              "assistant"]


def test_an_unanswered_message_is_marked_at_the_next_turn(tmp_path, fake_llm):
    # A model that fails before saying anything leaves the user message alone: the next turn
    # marks it (the same path as a turn lost on another replica).
    fake_llm.script(Error(400, message="bad request upstream"), Text("fine now"))
    with serve_agents(agent_config(tmp_path, fake_llm)) as server, server.client() as c:
        c.post("/api/message-sync", json={"content": "one", "sessionId": "u"})
        assert _roles(c.get("/api/sessions/u/history").json()["history"]) == ["user"]
        assert c.post("/api/message-sync", json={"content": "two", "sessionId": "u"}).status_code == 200
        history = c.get("/api/sessions/u/history").json()["history"]
    assert _roles(history) == ["user", "assistant", "user", "assistant"]
    assert history[1]["interrupted"] == "lost"
