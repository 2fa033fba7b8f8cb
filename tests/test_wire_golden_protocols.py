"""Golden tests of the protocol adapters' wire format: A2A JSON-RPC (0.3 slash methods and the
1.0 names, card and endpoint info), the OpenAI-compatible API (completion body, stream chunks
through `[DONE]`, models) and the MCP server's agent tool.

A real server and the scripted fake LLM over real HTTP; snapshots in tests/golden/ (README
there). Only random and time-based values are normalised (tests/golden/snapshot.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from switchyard.tools.base import FunctionTool
from tests.fakellm import Error, Text, ToolCalls
from tests.golden.snapshot import check, response_text, section
from tests.toolsutil import agent_config, module_server


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@pytest.fixture(scope="module")
def live(tmp_path_factory, fake_llm_server):
    config = agent_config("golden", fake_llm_server.base_url,
                          agentCard={"name": "Golden", "description": "Answers for the wire snapshots"})
    with module_server(tmp_path_factory, config, tools=[FunctionTool(add)]) as server:
        yield server


@pytest.fixture
def c(live):
    with live.client() as client:
        yield client


def rpc_body(method: str, params: Any, rid: Any = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}


def message03(text: str, message_id: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "message", "role": "user", "messageId": message_id,
            "parts": [{"kind": "text", "text": text}], **extra}


def streamed(c, method: str, path: str, body: dict[str, Any]) -> str:
    with c.stream(method, path, json=body) as r:
        raw = b"".join(r.iter_bytes())
    return response_text(r, raw.decode())


# --- A2A -----------------------------------------------------------------------------------

# A2A task `metadata` is a protobuf Struct: its JSON key order varies from process to process.
STRUCTS = ("metadata",)


def test_a2a_card_and_endpoint_info(c):
    check("a2a_card.txt", section("GET /.well-known/agent-card.json", response_text(c.get("/.well-known/agent-card.json")))
          + section("GET /agents/golden/.well-known/agent-card.json",
                    response_text(c.get("/agents/golden/.well-known/agent-card.json")))
          + section("GET /jsonrpc", response_text(c.get("/jsonrpc"))))


def test_a2a_message_send_and_tasks_get(c, fake_llm):
    fake_llm.script(Text("Sent and done.", chunks=3, usage=(6, 3)))
    sent = c.post("/jsonrpc", json=rpc_body("message/send", {"message": message03("hello a2a", "m-g-1",
                                                                                  taskId="g-a2a-send")}))
    got = c.post("/jsonrpc", json=rpc_body("tasks/get", {"id": "g-a2a-send"}, rid="get-1"))
    short = c.post("/jsonrpc", json=rpc_body("tasks/get", {"id": "g-a2a-send", "historyLength": 1}, rid=3))
    missing = c.post("/jsonrpc", json=rpc_body("tasks/get", {"id": "g-a2a-none"}, rid=4))
    check("a2a_message_send.txt", section("message/send", response_text(sent))
          + section("tasks/get", response_text(got))
          + section("tasks/get historyLength=1", response_text(short))
          + section("tasks/get unknown task", response_text(missing)), unordered=STRUCTS)


def test_a2a_message_stream(c, fake_llm):
    fake_llm.script(Text("Streamed over A2A.", chunks=3, usage=(6, 3)))
    body = rpc_body("message/stream", {"message": message03("stream a2a", "m-g-2", taskId="g-a2a-stream")}, "s-1")
    check("a2a_message_stream.txt", streamed(c, "POST", "/jsonrpc", body))


def test_a2a_v1_method_names(c, fake_llm):
    fake_llm.script(Text("Version one.", chunks=2, usage=(6, 2)), Text("Streamed v1.", chunks=2, usage=(6, 2)))
    message = {"messageId": "m-g-3", "role": "ROLE_USER", "taskId": "g-a2a-v1", "parts": [{"text": "v1 send"}]}
    sent = c.post("/jsonrpc", json=rpc_body("SendMessage", {"message": message}))
    stream_message = {**message, "messageId": "m-g-4", "parts": [{"text": "v1 stream"}]}
    stream = streamed(c, "POST", "/jsonrpc", rpc_body("SendStreamingMessage", {"message": stream_message}, 2))
    got = c.post("/jsonrpc", json=rpc_body("GetTask", {"id": "g-a2a-v1"}, 3))
    check("a2a_v1_methods.txt", section("SendMessage", response_text(sent))
          + section("SendStreamingMessage", stream) + section("GetTask", response_text(got)), unordered=STRUCTS)


def test_a2a_stream_with_a_tool_call_and_a_failed_task(c, fake_llm):
    fake_llm.script(ToolCalls([("call_g4", "add", {"a": 3, "b": 4})], usage=(12, 4)),
                    Text("Seven.", chunks=2, usage=(20, 1)),
                    Error(400, message="upstream refuses"))
    body = rpc_body("message/stream", {"message": message03("add 3 and 4", "m-g-5", taskId="g-a2a-tool")}, "s-2")
    tool = streamed(c, "POST", "/jsonrpc", body)
    failed = c.post("/jsonrpc", json=rpc_body("message/send", {"message": message03("fail", "m-g-6",
                                                                                    taskId="g-a2a-fail")}, 5))
    check("a2a_tool_and_failure.txt", section("message/stream with a tool call", tool)
          + section("message/send, upstream 400", response_text(failed)), unordered=STRUCTS)


# --- OpenAI-compatible ---------------------------------------------------------------------

def test_openai_models(c):
    check("openai_models.txt", section("GET /v1/models", response_text(c.get("/v1/models")))
          + section("GET /v1/models/golden", response_text(c.get("/v1/models/golden")))
          + section("GET /v1/models/nobody", response_text(c.get("/v1/models/nobody"))))


def test_openai_completion_body(c, fake_llm):
    fake_llm.script(Text("A plain completion.", chunks=3, usage=(8, 3)))
    r = c.post("/v1/chat/completions", json={"model": "golden", "messages": [{"role": "user", "content": "hi"}]})
    check("openai_completion.txt", response_text(r))


def test_openai_stream_chunks_with_tool_activity(c, fake_llm):
    fake_llm.script(ToolCalls([("call_g3", "add", {"a": 20, "b": 22})], usage=(12, 4)),
                    Text("The sum is 42.", chunks=3, usage=(20, 4)))
    body = {"model": "golden", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "add 20 and 22"}]}
    check("openai_stream.txt", streamed(c, "POST", "/v1/chat/completions", body))


def test_openai_upstream_failure(c, fake_llm):
    fake_llm.script(Error(400, message="upstream refuses"), Error(400, message="upstream refuses"))
    messages = [{"role": "user", "content": "fail"}]
    plain = c.post("/v1/chat/completions", json={"model": "golden", "messages": messages})
    stream = streamed(c, "POST", "/v1/chat/completions", {"model": "golden", "stream": True, "messages": messages})
    check("openai_upstream_failure.txt", section("non-stream", response_text(plain)) + section("stream", stream))


# --- MCP -----------------------------------------------------------------------------------

MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def mcp_raw_call(live, message: str, session_id: str) -> str:
    """initialize, notifications/initialized and tools/call as raw streamable-HTTP exchanges:
    the bytes the server sends (the official client's decoded models add defaults of their own)."""
    with live.client() as c:
        init = c.post("/mcp", headers=MCP_HEADERS, json={
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "golden", "version": "1"}}})
        headers = {**MCP_HEADERS, "mcp-session-id": init.headers["mcp-session-id"],
                   "mcp-protocol-version": "2025-06-18"}
        ready = c.post("/mcp", headers=headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
        listed = c.post("/mcp", headers=headers, json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        called = c.post("/mcp", headers=headers, json={
            "jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "chat_with_agent", "arguments": {"message": message, "sessionId": session_id}}})
    return (section("initialize", response_text(init)) + section("notifications/initialized", response_text(ready))
            + section("tools/list", response_text(listed)) + section("tools/call chat_with_agent", response_text(called)))


def test_mcp_agent_tool(live, fake_llm):
    fake_llm.script(Text("Answered over MCP.", chunks=2, usage=(5, 3)))
    check("mcp_tools.txt", mcp_raw_call(live, "hello mcp", "g-mcp"))


async def test_mcp_agent_tool_through_the_official_client(live, fake_llm):
    """The snapshot above is what the official client reads: it decodes to the same answer."""
    fake_llm.script(Text("Answered over MCP.", chunks=2, usage=(5, 3)))
    async with Client(f"{live.url}/mcp", mode="legacy") as client:
        [tool] = (await client.list_tools()).tools
        result = await client.call_tool(tool.name, {"message": "hello mcp", "sessionId": "g-mcp-client"})
    assert not result.is_error
    assert [c.text for c in result.content] == ["Answered over MCP."]
    assert result.structured_content == {"result": "Answered over MCP."}
