"""MCP end to end with the official `mcp` client: streamable HTTP against a real server (many
calls in one MCP session, both protocol eras, every hosted agent) and stdio against
`switchyard serve --mcp-stdio`."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from switchyard.config.loader import parse_agent
from switchyard.errors import LLMError
from switchyard.llm.base import Finish, TextDelta, Usage, content_to_text
from switchyard.llm.function import FunctionModel
from switchyard.runtime.agent import Agent
from switchyard.runtime.host import AgentHost
from switchyard.server.app import create_app
from tests.support.live_server import LiveServer


def ScriptedLLM(tag: str) -> FunctionModel:  # noqa: N802
    """Answers "<tag>: <text> [<user turns seen>]"; "FAIL ..." raises."""

    async def reply(messages: list[dict[str, Any]], tools: Any, info: Any):
        prompt = content_to_text(messages[-1]["content"])
        if prompt.startswith("FAIL"):
            raise LLMError("scripted failure", provider="scripted")
        turns = sum(1 for m in messages if m["role"] == "user")
        text = f"{tag}: {prompt} [{turns}]"
        for word in text.split(" "):
            yield TextDelta(word + " ")
        yield Usage(input_tokens=3, output_tokens=len(text.split()))
        yield Finish("stop")

    return FunctionModel(reply, provider="scripted", model="scripted-1")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mcp")

    def agent(agent_id: str, tag: str) -> Agent:
        loaded = parse_agent({"agentId": agent_id, "agentCard": {"description": f"The {tag} agent"},
                              "storage": {"database": {"type": "sqlite", "path": str(tmp / f"{agent_id}.db")}}})
        return Agent(loaded, llm_client=ScriptedLLM(tag))

    server = LiveServer(lambda: create_app(AgentHost([agent("main-agent", "Main"),
                                                       agent("other-agent", "Other")]))).start()
    yield server
    server.stop()


def text(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content).strip()


async def test_many_calls_in_one_streamable_http_session(live):
    async with Client(f"{live.url}/mcp", mode="legacy") as client:
        assert client.server_info.name == "main-agent"
        tools = await client.list_tools()
        [tool] = tools.tools
        assert tool.name == "chat_with_agent"
        assert set(tool.input_schema["properties"]) == {"message", "sessionId"}
        assert tool.input_schema["required"] == ["message"]

        # Without a session id every call starts fresh (and leaves no session behind).
        for i in range(3):
            result = await client.call_tool("chat_with_agent", {"message": f"hi {i}"})
            assert not result.is_error and text(result) == f"Main: hi {i} [1]"
        # With one, the conversation goes on across calls.
        for turn in (1, 2, 3):
            result = await client.call_tool("chat_with_agent", {"message": f"turn {turn}", "sessionId": "mcp-chat"})
            assert text(result) == f"Main: turn {turn} [{turn}]"

        resources = await client.list_resources()
        uris = {str(r.uri) for r in resources.resources}
        assert {"switchyard://agent/card", "dexto://agent/card"} <= uris
        card = json.loads((await client.read_resource("switchyard://agent/card")).contents[0].text)
        assert card["name"] == "main-agent" and card["url"] == f"{live.url}/jsonrpc"

        failed = await client.call_tool("chat_with_agent", {"message": "FAIL please"})
        assert failed.is_error and "scripted failure" in text(failed)
        empty = await client.call_tool("chat_with_agent", {"message": "  "})
        assert empty.is_error
        # The session still answers after errors.
        assert text(await client.call_tool("chat_with_agent", {"message": "still here"})) == "Main: still here [1]"

    with live.client() as c:
        sessions = [s["id"] for s in c.get("/api/sessions").json()["sessions"]]
    assert "mcp-chat" in sessions and not [s for s in sessions if s.startswith("mcp-") and s != "mcp-chat"]


async def test_modern_protocol_and_per_agent_endpoint(live):
    async with Client(f"{live.url}/agents/other-agent/mcp") as client:  # mode="auto"
        for i in range(2):
            result = await client.call_tool("chat_with_agent", {"message": f"yo {i}"})
            assert text(result) == f"Other: yo {i} [1]"
        card = json.loads((await client.read_resource("switchyard://agent/card")).contents[0].text)
        assert card["url"] == f"{live.url}/agents/other-agent/jsonrpc"


def test_unknown_agent_and_bad_session_over_http(live):
    with live.client() as c:
        r = c.post("/agents/nobody/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                   headers={"accept": "application/json, text/event-stream"})
        assert r.status_code == 404
        r = c.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                   headers={"accept": "application/json, text/event-stream", "mcp-session-id": "nope",
                            "mcp-protocol-version": "2025-06-18"})
        assert r.status_code == 404


@pytest.mark.skipif(importlib.util.find_spec("switchyard.llm.factory") is None,
                    reason="needs the echo provider (switchyard.llm.factory) from the LLM issue")
async def test_stdio_server(tmp_path):
    agent_file = tmp_path / "agent.yml"
    agent_file.write_text(
        "agentId: stdio-agent\n"
        "llm:\n  provider: echo\n"
        f"storage:\n  database:\n    type: sqlite\n    path: {tmp_path / 'stdio.db'}\n", "utf-8")
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "switchyard.cli", "--log-level", "warning", "serve", "--mcp-stdio", "--agent", str(agent_file)],
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, cwd=str(tmp_path))
    async with Client(params, mode="legacy") as client:
        assert client.server_info.name == "stdio-agent"
        assert text(await client.call_tool("chat_with_agent", {"message": "over stdio"})) == "Echo: over stdio"
        assert text(await client.call_tool("chat_with_agent", {"message": "one", "sessionId": "s"})) == "Echo: one"
        assert text(await client.call_tool("chat_with_agent", {"message": "two", "sessionId": "s"})) == "Echo: two"
        card = json.loads((await client.read_resource("switchyard://agent/card")).contents[0].text)
        assert card["name"] == "stdio-agent" and card["url"].endswith("/jsonrpc")


async def test_mcp_needs_the_api_key_when_auth_is_on(tmp_path):
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    key = "mcp-protocol-test-key-0123456789"
    env = {"SWITCHYARD_ENV": "production", "SWITCHYARD_API_KEY": key, "SWITCHYARD_HOME": str(tmp_path / "home")}

    def factory():
        loaded = parse_agent({"agentId": "secure", "storage": {"database": {
            "type": "sqlite", "path": str(tmp_path / "s.db")}}})
        return create_app(AgentHost([Agent(loaded, llm_client=ScriptedLLM("Sec"))]), env=env)

    with LiveServer(factory) as server:
        with server.client() as c:
            r = c.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                       headers={"accept": "application/json, text/event-stream"})
            assert r.status_code == 401
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30) as http, \
                Client(streamable_http_client(f"{server.url}/mcp", http_client=http), mode="legacy") as client:
            for i in range(2):
                assert text(await client.call_tool("chat_with_agent", {"message": f"k{i}"})) == f"Sec: k{i} [1]"
            card = json.loads((await client.read_resource("switchyard://agent/card")).contents[0].text)
            assert card["security"] == [{"bearerAuth": []}]
