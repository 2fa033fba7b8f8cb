"""A2A end to end: a real server, the official `a2a-sdk` client (A2A 1.0 and its 0.3 compat
transport) resolving the card, sending, streaming, getting, listing and cancelling; plus raw
JSON-RPC for the reference's 0.3 shapes and the error codes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from a2a.client import ClientConfig, ClientFactory, create_client
from a2a.client.card_resolver import A2ACardResolver
from a2a.types import a2a_pb2 as pb

from switchyard.config.loader import parse_agent
from switchyard.errors import LLMError
from switchyard.llm.base import Finish, TextDelta, ToolCallDelta, Usage, content_to_text
from switchyard.llm.function import FunctionModel
from switchyard.runtime.agent import Agent
from switchyard.runtime.host import AgentHost
from switchyard.server.app import create_app
from switchyard.server.card import build_card
from switchyard.tools.base import FunctionTool
from tests.support.a2a import msg03
from tests.support.live_server import LiveServer
from tests.support.sse import iter_sse, sse_events

S = pb.TaskState


def ScriptedLLM() -> FunctionModel:  # noqa: N802
    """Answers "Echo: <text>" in word chunks. "SLOW ..." streams slowly (for cancel), "FAIL ..."
    raises, "TOOL ..." calls the `lookup` tool once, then answers with its result."""
    return FunctionModel(_scripted_reply, provider="scripted", model="scripted-1")


async def _scripted_reply(messages: list[dict[str, Any]], tools: Any, info: Any):
    last = messages[-1]
    if last["role"] == "tool":
        text = f"Tool said {content_to_text(last['content'])}"
    else:
        prompt = content_to_text(last["content"])
        if prompt.startswith("FAIL"):
            raise LLMError("scripted failure", provider="scripted")
        if prompt.startswith("TOOL"):
            yield ToolCallDelta(index=0, id="call_1", name="lookup", arguments='{"q": "x"}')
            yield Finish("tool-calls")
            return
        text = f"Echo: {prompt}"
    slow = content_to_text(messages[-1]["content"]).startswith("SLOW")
    for i, word in enumerate(text.split(" ")):
        yield TextDelta(("" if i == 0 else " ") + word)
        await asyncio.sleep(0.3 if slow else 0)
    yield Usage(input_tokens=len(messages), output_tokens=len(text.split()))
    yield Finish("stop")


async def lookup(q: str) -> str:
    """Look something up."""
    return "forty-two"


class LoopHandle:
    """The server's event loop, recorded at start-up, so that the test thread can answer a
    tool approval the way the approvals route would."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.agent: Agent | None = None

    async def record(self) -> None:
        self.loop = asyncio.get_running_loop()

    def approve_all(self, session_id: str) -> None:
        def resolve() -> None:
            for pending in self.agent.approvals.pending(session_id):
                self.agent.approvals.resolve(pending["approvalId"], "approved")
        assert self.loop is not None
        self.loop.call_soon_threadsafe(resolve)


def make_agent(tmp_path, agent_id: str, **extra: Any) -> Agent:
    loaded = parse_agent({"agentId": agent_id,
                          "storage": {"database": {"type": "sqlite", "path": str(tmp_path / f"{agent_id}.db")}},
                          "routing": {"examples": ["What is 2+2?"], "keywords": ["math"]}, **extra})
    return Agent(loaded, llm_client=ScriptedLLM(), tools=[FunctionTool(lookup)])


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("a2a")
    approvals = LoopHandle()

    def factory():
        main = make_agent(tmp, "main-agent", permissions={"mode": "manual"})
        approvals.agent = main
        other = make_agent(tmp, "other-agent", agentCard={"name": "Other", "description": "The other one"})
        app = create_app(AgentHost([main, other]))
        app.state.startup_hooks.append(approvals.record)
        return app

    server = LiveServer(factory).start()
    server.approvals = approvals  # type: ignore[attr-defined]
    yield server
    server.stop()


def text_of(message: pb.Message) -> str:
    return "".join(p.text for p in message.parts)


def rpc(live, method: str, params: Any = None, *, path: str = "/jsonrpc", rid: Any = 1) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        body["params"] = params
    with live.client() as c:
        r = c.post(path, json=body)
    assert r.status_code == 200, r.text
    return r.json()



# --- the card --------------------------------------------------------------------------------

def test_cards_name_the_jsonrpc_endpoint_per_agent(live):
    with live.client() as c:
        root = c.get("/.well-known/agent-card.json").json()
        other = c.get("/agents/other-agent/.well-known/agent-card.json").json()
        assert c.get("/agents/nobody/.well-known/agent-card.json").status_code == 404
    assert root["url"] == f"{live.url}/jsonrpc" and root["preferredTransport"] == "JSONRPC"
    assert {(i["protocolBinding"], i["protocolVersion"], i["url"]) for i in root["supportedInterfaces"]} == {
        ("JSONRPC", "1.0", f"{live.url}/jsonrpc"), ("JSONRPC", "0.3", f"{live.url}/jsonrpc"),
        ("HTTP+JSON", "1.0", f"{live.url}/v1"), ("HTTP+JSON", "0.3", live.url)}   # the REST binding: the default agent
    assert root["capabilities"]["streaming"] is True
    skill = root["skills"][0]
    assert skill["examples"] == ["What is 2+2?"] and "math" in skill["tags"]
    assert "securitySchemes" not in root and "security" not in root
    assert other["name"] == "Other" and other["description"] == "The other one"
    assert other["url"] == f"{live.url}/agents/other-agent/jsonrpc"
    agent = f"{live.url}/agents/other-agent"   # its REST binding, under its own prefix
    assert {(i["protocolBinding"], i["protocolVersion"], i["url"]) for i in other["supportedInterfaces"]} == {
        ("JSONRPC", "1.0", f"{agent}/jsonrpc"), ("JSONRPC", "0.3", f"{agent}/jsonrpc"),
        ("HTTP+JSON", "1.0", f"{agent}/v1"), ("HTTP+JSON", "0.3", agent)}


def test_card_declares_bearer_auth_when_required(tmp_path):
    card = build_card(make_agent(tmp_path, "x"), "https://a.example", auth_required=True)
    assert card["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer",
                                                     "description": "Authorization: Bearer <api-key>"}
    assert card["security"] == [{"bearerAuth": []}]


# --- the official client, A2A 1.0 ------------------------------------------------------------

async def test_sdk_client_streams_sends_gets_lists(live):
    client = await create_client(live.url)
    try:
        request = pb.SendMessageRequest(message=pb.Message(
            message_id="m1", role=pb.Role.ROLE_USER, parts=[pb.Part(text="hello there")]))
        events = [e async for e in client.send_message(request)]
        kinds = [e.WhichOneof("payload") for e in events]
        assert kinds[0] == "task" and events[0].task.status.state == S.TASK_STATE_SUBMITTED
        task_id = events[0].task.id
        assert kinds[1] == "status_update" and events[1].status_update.status.state == S.TASK_STATE_WORKING
        chunks = [e.artifact_update for e in events if e.HasField("artifact_update")]
        assert "".join(c.artifact.parts[0].text for c in chunks) == "Echo: hello there"
        assert len(chunks) >= 2 and not chunks[0].append and all(c.append for c in chunks[1:])
        assert chunks[-1].last_chunk and not any(c.last_chunk for c in chunks[:-1])
        final = events[-1].status_update
        assert final.status.state == S.TASK_STATE_COMPLETED and final.task_id == task_id
        assert text_of(final.status.message) == "Echo: hello there"

        task = await client.get_task(pb.GetTaskRequest(id=task_id))
        assert task.status.state == S.TASK_STATE_COMPLETED and task.context_id == task_id
        assert [text_of(m) for m in task.history] == ["hello there", "Echo: hello there"]
        assert [m.role for m in task.history] == [pb.Role.ROLE_USER, pb.Role.ROLE_AGENT]
        assert task.artifacts[0].parts[0].text == "Echo: hello there"

        listed = await client.list_tasks(pb.ListTasksRequest(context_id=task_id))
        assert [t.id for t in listed.tasks] == [task_id]
    finally:
        await client.close()

    # Non-streaming, continuing the same task (task id = session id).
    client = await create_client(live.url, client_config=ClientConfig(streaming=False))
    try:
        request = pb.SendMessageRequest(message=pb.Message(
            message_id="m2", role=pb.Role.ROLE_USER, task_id=task_id, parts=[pb.Part(text="again")]))
        [only] = [e async for e in client.send_message(request)]
        assert only.task.id == task_id and only.task.status.state == S.TASK_STATE_COMPLETED
        assert text_of(only.task.status.message) == "Echo: again"
        assert len(only.task.history) == 4
    finally:
        await client.close()


async def test_sdk_client_subscribes_to_a_running_task_and_follows_it_to_its_end(live):
    client = await create_client(live.url, client_config=ClientConfig(streaming=False, polling=True))
    watcher = await create_client(live.url, client_config=ClientConfig(streaming=True))
    try:
        request = pb.SendMessageRequest(message=pb.Message(
            message_id="m-sub", role=pb.Role.ROLE_USER, parts=[pb.Part(text="SLOW follow me to the end")]))
        [first] = [e async for e in client.send_message(request)]
        task_id = first.task.id
        await asyncio.sleep(0.4)
        events = [e async for e in watcher.subscribe(pb.SubscribeToTaskRequest(id=task_id))]
        assert events[0].task.id == task_id and events[0].task.status.state == S.TASK_STATE_WORKING
        text = "".join(p.text for e in events if e.HasField("artifact_update") for p in e.artifact_update.artifact.parts)
        # The snapshot's history may already hold nothing of the answer: the artifacts carry it whole.
        assert text == "Echo: SLOW follow me to the end"
        assert events[-1].status_update.status.state == S.TASK_STATE_COMPLETED
    finally:
        await client.close()
        await watcher.close()


async def test_sdk_client_cancels_a_running_task(live):
    client = await create_client(live.url, client_config=ClientConfig(streaming=False, polling=True))
    try:
        request = pb.SendMessageRequest(message=pb.Message(
            message_id="m3", role=pb.Role.ROLE_USER, parts=[pb.Part(text="SLOW one two three four five six")]))
        [first] = [e async for e in client.send_message(request)]
        task_id = first.task.id
        assert first.task.status.state in (S.TASK_STATE_SUBMITTED, S.TASK_STATE_WORKING)
        await asyncio.sleep(0.5)
        assert (await client.get_task(pb.GetTaskRequest(id=task_id))).status.state == S.TASK_STATE_WORKING
        canceled = await client.cancel_task(pb.CancelTaskRequest(id=task_id))
        assert canceled.status.state == S.TASK_STATE_CANCELED
        assert (await client.get_task(pb.GetTaskRequest(id=task_id))).status.state == S.TASK_STATE_CANCELED
        # Nothing runs any more: a second cancel is refused with the spec's code.
        from a2a.utils.errors import TaskNotCancelableError
        with pytest.raises(TaskNotCancelableError):
            await client.cancel_task(pb.CancelTaskRequest(id=task_id))
    finally:
        await client.close()


async def test_sdk_client_reaches_another_hosted_agent(live):
    client = await create_client(live.url, relative_card_path="/agents/other-agent/.well-known/agent-card.json",
                                 client_config=ClientConfig(streaming=False))
    try:
        request = pb.SendMessageRequest(message=pb.Message(
            message_id="m4", role=pb.Role.ROLE_USER, parts=[pb.Part(text="hi other")]))
        [only] = [e async for e in client.send_message(request)]
        assert text_of(only.task.status.message) == "Echo: hi other"
        task_id = only.task.id
    finally:
        await client.close()
    # The task belongs to the other agent, not to the default one.
    assert rpc(live, "tasks/get", {"id": task_id})["error"]["code"] == -32001
    assert rpc(live, "tasks/get", {"id": task_id}, path="/agents/other-agent/jsonrpc")["result"]["id"] == task_id


# --- the official client's A2A 0.3 transport (message/send, message/stream, tasks/*) ------------

async def test_sdk_v03_transport_uses_the_slash_methods(live):
    async with httpx.AsyncClient() as http:
        card = await A2ACardResolver(http, live.url).get_agent_card()
    legacy = [i for i in card.supported_interfaces if i.protocol_version == "0.3"]
    del card.supported_interfaces[:]
    card.supported_interfaces.extend(legacy)
    client = ClientFactory(ClientConfig()).create(card)
    try:
        request = pb.SendMessageRequest(message=pb.Message(
            message_id="m5", role=pb.Role.ROLE_USER, parts=[pb.Part(text="old school")]))
        events = [e async for e in client.send_message(request)]  # message/stream
        final = events[-1].status_update
        assert final.status.state == S.TASK_STATE_COMPLETED
        task_id = final.task_id
        chunks = [e.artifact_update.artifact.parts[0].text for e in events if e.HasField("artifact_update")]
        assert "".join(chunks) == "Echo: old school"
        task = await client.get_task(pb.GetTaskRequest(id=task_id))  # tasks/get
        assert task.status.state == S.TASK_STATE_COMPLETED
        assert task.artifacts[0].parts[0].text == "Echo: old school"
    finally:
        await client.close()


# --- raw JSON-RPC: the reference's 0.3 shapes, states and errors ------------------------------

def test_message_send_with_kind_parts_returns_a_spec_task(live):
    body = rpc(live, "message/send", {"message": msg03("reference shape", taskId="ref-1")})
    task = body["result"]
    assert task["kind"] == "task" and task["id"] == "ref-1" and task["contextId"] == "ref-1"
    assert task["status"]["state"] == "completed"
    assert task["status"]["message"]["parts"] == [{"kind": "text", "text": "Echo: reference shape"}]
    assert task["status"]["message"]["role"] == "agent"
    assert [m["role"] for m in task["history"]] == ["user", "agent"]
    assert task["artifacts"][0]["parts"][0]["text"] == "Echo: reference shape"
    assert task["metadata"]["dexto"]["sessionId"] == "ref-1"
    # A data part is appended as JSON; a part without `kind` is accepted too.
    message = msg03("data:", taskId="ref-1")
    message["parts"].append({"kind": "data", "data": {"a": 1}})
    message["parts"].append({"text": "tail"})
    task = rpc(live, "message/send", {"message": message})["result"]
    assert task["status"]["message"]["parts"][0]["text"].startswith("Echo: data: {")
    got = rpc(live, "tasks/get", {"id": "ref-1", "historyLength": 1})["result"]
    assert len(got["history"]) == 1 and got["history"][0]["role"] == "agent"


def test_message_stream_sends_spec_status_and_artifact_updates(live):
    body = {"jsonrpc": "2.0", "id": "s1", "method": "message/stream", "params": {"message": msg03("stream me")}}
    with live.client() as c, c.stream("POST", "/jsonrpc", json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [data for _, data in sse_events(r)]
    assert all(e["jsonrpc"] == "2.0" and e["id"] == "s1" for e in events)
    results = [e["result"] for e in events]
    assert [r["kind"] for r in results][:2] == ["task", "status-update"]
    assert results[0]["status"]["state"] == "submitted"
    assert results[1]["status"]["state"] == "working" and results[1]["final"] is False
    artifacts = [r for r in results if r["kind"] == "artifact-update"]
    assert "".join(a["artifact"]["parts"][0]["text"] for a in artifacts) == "Echo: stream me"
    assert artifacts[-1]["lastChunk"] is True
    assert results[-1]["kind"] == "status-update" and results[-1]["status"]["state"] == "completed"
    assert results[-1]["final"] is True
    assert not any(str(r.get("kind", "")).startswith("task.") for r in results)


def test_failed_run_is_failed(live):
    task = rpc(live, "message/send", {"message": msg03("FAIL now", taskId="fails")})["result"]
    assert task["status"]["state"] == "failed"
    assert "scripted failure" in task["status"]["message"]["parts"][0]["text"]
    assert rpc(live, "tasks/get", {"id": "fails"})["result"]["status"]["state"] == "failed"
    listed = rpc(live, "tasks/list", {"status": "failed"})["result"]
    assert "fails" in [t["id"] for t in listed["tasks"]]
    assert all(t["status"]["state"] == "failed" for t in listed["tasks"])


def test_waiting_for_tool_approval_is_input_required(live):
    body = {"jsonrpc": "2.0", "id": 7, "method": "message/stream",
            "params": {"message": msg03("TOOL please", taskId="needs-ok")}}
    states = []
    with live.client() as c, c.stream("POST", "/jsonrpc", json=body) as r:
        for _, data in iter_sse(r):
            result = data["result"]
            if result["kind"] == "status-update":
                states.append(result["status"]["state"])
                if result["status"]["state"] == "input-required":
                    assert "lookup" in result["status"]["message"]["parts"][0]["text"]
                    got = rpc(live, "tasks/get", {"id": "needs-ok"})["result"]
                    assert got["status"]["state"] == "input-required"
                    live.approvals.approve_all("needs-ok")
    assert states[0] == "working" and "input-required" in states
    assert states[states.index("input-required") + 1] == "working"
    assert states[-1] == "completed"
    final = rpc(live, "tasks/get", {"id": "needs-ok"})["result"]
    assert final["status"]["message"]["parts"][0]["text"] == "Tool said forty-two"


def test_cancel_gives_a_real_canceled_state_over_0_3(live):
    with live.client() as c:
        r = c.post("/jsonrpc", json={"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {
            "message": msg03("SLOW a b c d e f g", taskId="cx"), "configuration": {"blocking": False}}})
        assert r.json()["result"]["status"]["state"] in ("submitted", "working")
    time.sleep(0.4)
    canceled = rpc(live, "tasks/cancel", {"id": "cx"})["result"]
    assert canceled["status"]["state"] == "canceled"
    err = rpc(live, "tasks/cancel", {"id": "cx"})["error"]
    assert err["code"] == -32002 and "canceled" in err["message"]


def test_tasks_list_pages_in_the_reference_shape(live):
    for i in range(3):
        rpc(live, "message/send", {"message": msg03(f"page {i}", contextId=f"page-{i}")}, path="/agents/other-agent/jsonrpc")
    first = rpc(live, "tasks/list", {"pageSize": 2}, path="/agents/other-agent/jsonrpc")["result"]
    assert first["pageSize"] == 2 and len(first["tasks"]) == 2 and first["totalSize"] >= 3
    assert first["nextPageToken"]
    rest = rpc(live, "tasks/list", {"pageSize": 2, "pageToken": first["nextPageToken"]},
               path="/agents/other-agent/jsonrpc")["result"]
    ids = [t["id"] for t in first["tasks"] + rest["tasks"]]
    assert {"page-0", "page-1", "page-2"} <= set(ids) and len(ids) == len(set(ids))


def test_jsonrpc_error_codes(live):
    with live.client() as c:
        r = c.post("/jsonrpc", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 200 and r.json()["error"]["code"] == -32700 and r.json()["id"] is None
        assert c.post("/jsonrpc", json=[]).json()["error"]["code"] == -32600
        assert c.post("/jsonrpc", json={"id": 1, "method": "tasks/get"}).json()["error"]["code"] == -32600
        # A notification gets no answer.
        assert c.post("/jsonrpc", json={"jsonrpc": "2.0", "method": "tasks/get", "params": {}}).status_code == 204
        batch = c.post("/jsonrpc", json=[{"jsonrpc": "2.0", "id": "a", "method": "nope"},
                                         {"jsonrpc": "2.0", "id": "b", "method": "tasks/get", "params": {"id": "none"}}])
        assert {e["id"]: e["error"]["code"] for e in batch.json()} == {"a": -32601, "b": -32001}
        assert c.get("/jsonrpc").json()["endpoint"] == "/jsonrpc"
        assert c.post("/agents/nobody/jsonrpc", json={"jsonrpc": "2.0", "id": 1, "method": "tasks/get"}).status_code == 404
    assert rpc(live, "message/sendd", {})["error"]["code"] == -32601
    assert rpc(live, "message/send", {})["error"]["code"] == -32602
    assert rpc(live, "message/send", {"message": {"role": "user", "parts": []}})["error"]["code"] == -32602
    assert rpc(live, "message/send", {"message": msg03("x", taskId="bad id!")})["error"]["code"] == -32602
    assert rpc(live, "tasks/get", {})["error"]["code"] == -32602
    assert rpc(live, "tasks/get", "not an object")["error"]["code"] == -32602
    assert rpc(live, "tasks/list", {"pageSize": 1000})["error"]["code"] == -32602
    assert rpc(live, "tasks/get", {"id": "missing"})["error"]["code"] == -32001
    assert rpc(live, "SendMessage", {"message": {"role": "ROLE_USER", "parts": [{"text": "v1"}],
                                                 "messageId": "v1"}})["result"]["task"]["status"]["state"] == \
        "TASK_STATE_COMPLETED"


# --- with authentication on ----------------------------------------------------------------

KEY = "a2a-protocol-test-key-0123456789"


async def test_auth_is_declared_on_the_card_and_required_by_the_endpoint(tmp_path):
    env = {"SWITCHYARD_ENV": "production", "SWITCHYARD_API_KEY": KEY, "SWITCHYARD_HOME": str(tmp_path / "home")}
    with LiveServer(lambda: create_app(AgentHost([make_agent(tmp_path, "secure-agent")]), env=env)) as server:
        with server.client() as c:
            card = c.get("/.well-known/agent-card.json").json()
            assert card["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
            assert card["security"] == [{"bearerAuth": []}]
            assert c.post("/jsonrpc", json={"jsonrpc": "2.0", "id": 1, "method": "tasks/list"}).status_code == 401
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as http:
            client = await create_client(server.url, client_config=ClientConfig(streaming=False, httpx_client=http))
            request = pb.SendMessageRequest(message=pb.Message(
                message_id="sec", role=pb.Role.ROLE_USER, parts=[pb.Part(text="with a key")]))
            [only] = [e async for e in client.send_message(request)]
            assert text_of(only.task.status.message) == "Echo: with a key"
        async with httpx.AsyncClient(timeout=30) as http:
            client = await create_client(server.url, client_config=ClientConfig(streaming=False, httpx_client=http))
            with pytest.raises(Exception) as info:
                [e async for e in client.send_message(request)]
            assert "401" in str(info.value)
