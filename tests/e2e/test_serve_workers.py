"""`switchyard serve --workers N`: refused without shared state; with Redis and Postgres, N
processes on one port that behave as one server (and a killed worker is started again)."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import postgres_url, redis_url
from tests.support.cli_process import CliProcess, cli_env
from tests.support.net import free_port


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def test_several_workers_without_redis_are_refused_with_the_reason(tmp_path):
    agent = tmp_path / "agent.yml"
    agent.write_text("agentId: solo\nllm: {provider: echo}\n")
    env = cli_env(tmp_path / "home")
    env.pop("SWITCHYARD_REDIS_URL", None)
    with CliProcess("serve", "--agent", str(agent), "--port", str(free_port()), "--workers", "2", env=env) as server:
        assert server.proc.wait(60) == 2
    assert "--workers 2 needs SWITCHYARD_REDIS_URL" in server.output
    assert "--workers 1" in server.output and "ready" not in server.output


@pytest.mark.skipif(not postgres_url(), reason="SWITCHYARD_TEST_POSTGRES_URL is not set (Postgres not available)")
@pytest.mark.skipif(not redis_url(), reason="SWITCHYARD_TEST_REDIS_URL is not set (Redis not available)")
def test_two_workers_share_one_port_and_one_state_and_a_killed_worker_comes_back(tmp_path):
    agent = tmp_path / "agent.yml"
    agent.write_text(json.dumps({"agentId": "workers", "llm": {"provider": "echo"},
                                 "storage": {"database": {"type": "postgres", "url": postgres_url()}}}))
    port = free_port()
    env = cli_env(tmp_path / "home", SWITCHYARD_REDIS_URL=redis_url(),
                  SWITCHYARD_REDIS_PREFIX=f"sytest-{uuid.uuid4().hex[:8]}")
    with CliProcess("serve", "--agent", str(agent), "--port", str(port), "--workers", "2", env=env) as server:
        server.wait_for("Switchyard is ready on", timeout=120)
        server.wait_for("worker 1 ready", timeout=120)
        workers = _children(server.proc.pid)
        assert len(workers) == 2
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            # New connections land on either worker; every answer sees the same sessions.
            session = f"w-{uuid.uuid4().hex[:8]}"
            for i in range(6):
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as fresh:
                    sent = fresh.post("/api/message-sync", json={"content": f"m{i}", "sessionId": session})
                    assert sent.status_code == 200, sent.text
            history = c.get(f"/api/sessions/{session}/history").json()["history"]
            assert [m["content"] for m in history if m["role"] == "user"] == [f"m{i}" for i in range(6)]
            # A worker killed outright is started again; the port keeps answering meanwhile.
            os.kill(workers[0], signal.SIGKILL)
            deadline = time.monotonic() + 60
            while True:
                alive = [p for p in _children(server.proc.pid) if p != workers[0]]
                if len(alive) == 2:
                    break
                assert time.monotonic() < deadline, server.output
                time.sleep(0.2)
            assert c.get(f"/api/sessions/{session}").status_code == 200
        while sum("Switchyard is ready on" in line for line in server.lines) < 2:   # worker 0 again
            assert time.monotonic() < deadline, server.output
            time.sleep(0.2)
        assert server.stop() == 0
    assert "worker 0 (pid" in server.output and "starting it again" in server.output
