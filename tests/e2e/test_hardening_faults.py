"""Issue 17, integrity and faults: a storage error answers 503 and leaves the keep-alive
connection usable; interrupted turns are marked in history and for the model."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys

from tests.e2e.test_server_runs import _ok, wait_until
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
