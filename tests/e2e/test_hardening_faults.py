"""Issue 17, integrity and faults: a storage error answers 503 and leaves the keep-alive
connection usable; interrupted turns are marked in history and for the model."""

from __future__ import annotations

import sqlite3

from tests.support.live_server import serve_agents
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
