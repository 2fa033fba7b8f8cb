"""pytest plugin: the `fake_llm` fixture (a scripted fake OpenAI/Anthropic server on loopback).

Enable it from tests/conftest.py with `pytest_plugins = ["tests.conftest_fakellm"]`.

* `fake_llm_server` (session): one real HTTP server for the whole run (starting uvicorn per
  test would cost time for nothing).
* `fake_llm` (function): the same server with its script and request log cleared before the
  test; a test that leaves scripted steps unconsumed fails, since that usually means the code
  under test made fewer requests than the test expected.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.fakellm import FakeLLM


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[FakeLLM]:
    server = FakeLLM().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_llm(fake_llm_server: FakeLLM) -> Iterator[FakeLLM]:
    fake_llm_server.reset()
    yield fake_llm_server
    left = fake_llm_server.pending
    fake_llm_server.reset()
    assert left == 0, f"{left} scripted fake LLM step(s) were never requested"
