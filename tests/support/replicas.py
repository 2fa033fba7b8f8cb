"""Replicas for the two-process tests: real `switchyard serve` processes on loopback over the
test run's Postgres and Redis (each test module uses a Redis key prefix of its own).

    from tests.support.replicas import ROOT, SHARED_BACKENDS, Replica, replica_env, ...
    pytestmark = SHARED_BACKENDS
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.conftest import postgres_url, redis_url
from tests.support.cli_process import CliProcess, cli_env
from tests.support.fake_llm import FakeLLM
from tests.support.net import free_port
from tests.support.sse import iter_sse

# The tests skip, saying why, without either service.
SHARED_BACKENDS = [
    pytest.mark.skipif(not postgres_url(), reason="SWITCHYARD_TEST_POSTGRES_URL is not set (Postgres not available)"),
    pytest.mark.skipif(not redis_url(), reason="SWITCHYARD_TEST_REDIS_URL is not set (Redis not available)"),
]

ROOT_KEY = "replica-root-key-" + uuid.uuid4().hex
ROOT = {"authorization": f"Bearer {ROOT_KEY}"}


def new_prefix() -> str:
    """A Redis key prefix for one deployment of replicas (shared by its processes only)."""
    return f"sytest-{uuid.uuid4().hex[:8]}"


def replica_env(home: Path, prefix: str, **extra: str) -> dict[str, str]:
    """A replica's environment: auth on with ROOT_KEY, the run's Redis under `prefix`, the
    request rate limits off (the tests count their own limits where they test them)."""
    return cli_env(home, SWITCHYARD_REQUIRE_AUTH="true", SWITCHYARD_API_KEY=ROOT_KEY,
                   SWITCHYARD_REDIS_URL=redis_url() or "", SWITCHYARD_REDIS_PREFIX=prefix,
                   SWITCHYARD_RATE_LIMIT="off", SWITCHYARD_RATE_LIMIT_PER_ADDRESS="off", **extra)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    """The module's scripted fake LLM, answering every replica (its own, not the session-wide
    one: replicas outlive single tests)."""
    server = FakeLLM().start()
    yield server
    server.stop()


class Replica:
    """One `switchyard serve` process; `args` name its agent(s) (`--agent FILE` by default)."""

    def __init__(self, name: str, agent_file: Path | None, env: dict[str, str], *args: str) -> None:
        self.name, self.port, self.env = name, free_port(), env
        target = args or ("--agent", str(agent_file), "--workers", "1")
        self.process = CliProcess("serve", *target, "--port", str(self.port), "--no-access-log", env=env)
        self.url = f"http://127.0.0.1:{self.port}"

    def ready(self) -> "Replica":
        self.process.wait_for("Switchyard is ready on", timeout=120)
        return self

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)


def stream_in_background(replica: Replica, body: dict[str, Any], events: list[tuple[str, Any]],
                         headers: dict[str, str] = ROOT) -> threading.Thread:
    """POST /api/message-stream on `replica` in a thread, appending its events to `events`
    (`("connection-lost", ...)` when the replica dies)."""
    def read() -> None:
        try:
            with replica.client() as c, c.stream("POST", "/api/message-stream", json=body, headers=headers) as r:
                assert r.status_code == 200, r.read()
                for event in iter_sse(r):
                    events.append(event)
        except httpx.HTTPError as exc:   # the replica was killed
            events.append(("connection-lost", str(exc)))
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def wait_until(condition: Any, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def text_of(events: list[tuple[str, Any]]) -> str:
    """The streamed answer text of `events`."""
    return "".join(data.get("content", "") for name, data in events
                   if name == "llm:chunk" and isinstance(data, dict) and data.get("chunkType", "text") == "text")
