"""Issue 17, secrets: credentials inside URLs (user-info, secret-looking query values) never
reach a read key, an error body, an llm:error event or a log line."""

from __future__ import annotations

import logging

from switchyard.logs import RedactingFormatter
from tests.support.live_server import LiveServer
from tests.support.net import free_port
from tests.support.security import ROOT, bearer, create_key, production
from tests.support.sse import sse_events

SECRETS = ("hunter2pass", "qs-secret-4242", "mcp-token-777", "sig-value-99")


def _app(llm_port: int, mcp_port: int):
    from switchyard.config import parse_agent
    from switchyard.runtime.agent import Agent
    from switchyard.runtime.host import AgentHost
    from switchyard.server.app import create_app
    config = {
        "agentId": "leaky",
        "llm": {"provider": "openai-compatible", "model": "m",
                "baseURL": f"http://bob:hunter2pass@127.0.0.1:{llm_port}/v1?api-key=qs-secret-4242&tier=1",
                "apiKey": "not-a-real-key-123", "maxIterations": 2},
        "mcpServers": {"remote": {"type": "http", "connectionMode": "lenient",
                                  "url": f"http://127.0.0.1:{mcp_port}/mcp?token=mcp-token-777&sig=sig-value-99"}},
        "storage": {"database": {"type": "in-memory"}}}
    return create_app(AgentHost([Agent(parse_agent(config, env={}))]))


def _clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked in: {text[:500]}"


def test_credentials_in_urls_are_redacted_everywhere(monkeypatch, caplog):
    production(monkeypatch)
    caplog.set_level(logging.DEBUG)
    closed_llm, closed_mcp = free_port(), free_port()   # nothing listens: every call fails
    server = LiveServer(lambda: _app(closed_llm, closed_mcp)).start()
    try:
        with server.client() as c:
            reader = bearer(create_key(c, "reader", ["read"]))
            chatter = bearer(create_key(c, "chatter", ["chat"]))
            current = c.get("/api/llm/current", headers=reader)
            assert current.status_code == 200
            base = current.json()["config"]["baseURL"]
            assert base == (f"http://[REDACTED]@127.0.0.1:{closed_llm}/v1?api-key=[REDACTED]&tier=1")
            config = c.get("/api/mcp/servers/remote/config", headers=reader)
            assert config.status_code == 200, config.text
            assert config.json()["config"]["url"] == (
                f"http://127.0.0.1:{closed_mcp}/mcp?token=[REDACTED]&sig=[REDACTED]")
            _clean(config.text)
            _clean(c.get("/api/mcp/servers", headers=reader).text)
            # A run that fails on the model: the run_failed body and the llm:error event.
            failed = c.post("/api/message-sync", headers=chatter, json={"content": "hi"})
            assert failed.status_code >= 400, failed.text
            assert "127.0.0.1" in failed.text          # the URL is there, its secrets are not
            _clean(failed.text)
            with c.stream("POST", "/api/message-stream", headers=chatter,
                          json={"content": "again"}) as stream:
                events = sse_events(stream)
            session_id = events[0][1]["sessionId"]   # a chat key's new sessions get server-made ids
            errors = [data for name, data in events if name == "llm:error"]
            assert errors, [name for name, _ in events]
            for data in errors:
                assert "127.0.0.1" in str(data)
                _clean(str(data))
            _clean(c.get(f"/api/sessions/{session_id}/history", headers=ROOT).text)
    finally:
        server.stop()
    formatter = RedactingFormatter("%(message)s")
    lines = [formatter.format(record) for record in caplog.records]
    assert any("127.0.0.1" in line for line in lines)
    for line in lines:
        _clean(line)
