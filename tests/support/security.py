"""Shared helpers for the security tests (no tests here): a scripted LLM, a live server
factory, and key helpers. Imported by tests/e2e/test_security_*.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from switchyard.llm.base import Finish, TextDelta, Usage
from switchyard.llm.function import FunctionModel
from tests.support.live_server import LiveServer

ROOT_KEY = "root-test-key-5f1c9a8e7d6b4c3a2b1f0e9d"
ROOT = {"Authorization": f"Bearer {ROOT_KEY}"}


def ScriptedLLM(text: str = "scripted answer", delay: float = 0.0) -> FunctionModel:  # noqa: N802
    """A model that answers every turn with a fixed text, after an optional delay."""

    async def reply(messages: list[dict[str, Any]], tools: list[Any], info: Any):
        if delay:
            await asyncio.sleep(delay)
        yield TextDelta(text)
        yield Usage(input_tokens=3, output_tokens=2)
        yield Finish("stop")

    return FunctionModel(reply, provider="scripted", model="scripted-1")


def make_app(llm: FunctionModel | None = None) -> Any:
    from switchyard.config import parse_agent
    from switchyard.runtime.agent import Agent
    from switchyard.runtime.host import AgentHost
    from switchyard.server.app import create_app
    agent = Agent(parse_agent({"agentId": "sec-agent", "storage": {"database": {"type": "in-memory"}}}, env={}),
                  llm_client=llm or ScriptedLLM())
    return create_app(AgentHost([agent]))


@contextlib.contextmanager
def live(llm: FunctionModel | None = None) -> Iterator[LiveServer]:
    """A real server; set the environment (monkeypatch.setenv) before calling."""
    server = LiveServer(lambda: make_app(llm)).start()
    try:
        yield server
    finally:
        server.stop()


def production(monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    monkeypatch.setenv("SWITCHYARD_ENV", "production")
    monkeypatch.setenv("SWITCHYARD_API_KEY", ROOT_KEY)
    for name, value in extra.items():
        monkeypatch.setenv(name, value)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def create_key(client: Any, name: str, scopes: list[str], **body: Any) -> str:
    response = client.post("/api/keys", headers=ROOT, json={"name": name, "scopes": scopes, **body})
    assert response.status_code == 201, response.text
    return response.json()["key"]


def audit_entries(client: Any, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/audit", headers=ROOT, params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    return response.json()["entries"]


def read_audit(**filters: Any) -> list[dict[str, Any]]:
    """Audit rows read straight from the server database (as another process would)."""
    import os

    from switchyard.server.security.audit import AuditLog
    from switchyard.server.security.settings import SecuritySettings
    from switchyard.store.database import Database

    async def go() -> list[dict[str, Any]]:
        db = await Database(SecuritySettings.from_env(os.environ).server_database_url()).open()
        try:
            entries, _ = await AuditLog(db).query(limit=500, **filters)
            return entries
        finally:
            await db.close()
    return asyncio.run(go())
