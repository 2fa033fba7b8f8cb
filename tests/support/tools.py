"""Helpers for the tools / MCP / approvals end-to-end tests (tests/e2e/test_tools_*.py)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.live_server import LiveServer, serve_agents
from tests.support.net import free_port, wait_for_port

DEMO_SERVER = str(Path(__file__).parent / "mcp_servers" / "demo_server.py")
API_KEY = "sk-test-0123456789abcdefgh"


def stdio_server(**extra: Any) -> dict[str, Any]:
    return {"type": "stdio", "command": sys.executable, "args": [DEMO_SERVER], **extra}


def agent_config(agent_id: str, base_url: str, **extra: Any) -> dict[str, Any]:
    return {"agentId": agent_id,
            "llm": {"provider": "openai-compatible", "model": "fake-model", "baseURL": base_url,
                    "apiKey": API_KEY},
            "storage": {"database": {"type": "in-memory"}}, **extra}


@contextlib.contextmanager
def module_server(tmp_path_factory: pytest.TempPathFactory, *configs: dict[str, Any],
                  env: dict[str, str] | None = None, **kwargs: Any) -> Iterator[LiveServer]:
    """A live server for a whole test module, its home (keys, audit db) in a temp dir; `env`:
    extra environment for the server's start (e.g. to turn auth on)."""
    with started_in_own_home(serve_agents(*configs, **kwargs), tmp_path_factory.mktemp("home"), env) as live:
        yield live


@contextlib.contextmanager
def started_in_own_home(live: LiveServer, home: Any, env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """Start `live` (not started yet) with its home (keys, audit db) in `home`, in development
    mode whatever the test run's environment says, plus `env`; stopped at the end."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SWITCHYARD_HOME", str(home))
        for var in ("SWITCHYARD_API_KEY", "DEXTO_SERVER_API_KEY", "NODE_ENV", "SWITCHYARD_ENV",
                    "SWITCHYARD_REQUIRE_AUTH", "DEXTO_SERVER_REQUIRE_AUTH"):
            mp.delenv(var, raising=False)
        for var, value in (env or {}).items():
            mp.setenv(var, value)
        live.start(timeout=60)
        try:
            yield live
        finally:
            live.stop()


@contextlib.contextmanager
def http_demo_server() -> Iterator[str]:
    """The demo MCP server over streamable HTTP on a free loopback port; yields its URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, DEMO_SERVER, "--transport", "streamable-http",
                             "--port", str(port), "--name", "web"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc=proc)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def read_until(events: Iterator[tuple[str, dict[str, Any]]], wanted: str,
               seen: list[tuple[str, dict[str, Any]]] | None = None) -> dict[str, Any]:
    for name, data in events:
        if seen is not None:
            seen.append((name, data))
        if name == wanted:
            return data
    raise AssertionError(f"the stream ended without {wanted}")


def wait_until(predicate: Any, timeout: float = 15.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def tool_messages(llm_request: dict[str, Any]) -> dict[str, str]:
    """tool_call_id -> content of the tool results an LLM request carried."""
    return {m["tool_call_id"]: m["content"] for m in llm_request["json"]["messages"]
            if m.get("role") == "tool"}
