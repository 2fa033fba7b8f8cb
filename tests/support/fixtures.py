"""pytest plugin with the shared fixtures (enabled by tests/conftest.py's `pytest_plugins`).

* `fake_llm_server` (session): one scripted fake LLM server (tests/support/fake_llm.py) for the
  whole run (starting uvicorn per test would cost time for nothing).
* `fake_llm` (function): the same server with its script and request log cleared before the
  test; a test that leaves scripted steps unconsumed fails, since that usually means the code
  under test made fewer requests than the test expected.
* `live_server` (function): `live_server(app_factory)` starts a real uvicorn server
  (tests/support/live_server.py) on a free loopback port and stops it after the test.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Iterator

import pytest

from tests.support.fake_llm import FakeLLM, last_user_text
from tests.support.live_server import LiveServer


class StrayRequestWarning(UserWarning):
    """A request reached the shared fake LLM outside any test that scripts it."""


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[FakeLLM]:
    server = FakeLLM().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_llm(fake_llm_server: FakeLLM) -> Iterator[FakeLLM]:
    # Requests that arrived since the last test ended came from a server that outlived its test
    # (a leaked background run): they could take a later test's scripted step. Say so.
    stray = [last_user_text(r["json"])[:60] for r in list(fake_llm_server.requests)]
    if stray:
        warnings.warn(f"{len(stray)} request(s) reached the shared fake LLM between tests: {stray}",
                      StrayRequestWarning, stacklevel=1)
    fake_llm_server.reset()
    yield fake_llm_server
    left = fake_llm_server.pending
    fake_llm_server.reset()
    assert left == 0, f"{left} scripted fake LLM step(s) were never requested"


@pytest.fixture
def live_server() -> Iterator[Callable[[Callable[[], Any]], LiveServer]]:
    started: list[LiveServer] = []

    def start(app_factory: Callable[[], Any]) -> LiveServer:
        server = LiveServer(app_factory).start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()
