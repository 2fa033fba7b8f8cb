"""A2A over REST for every hosted agent: each agent's card advertises its own HTTP+JSON
interface (`/agents/{id}/v1` for 1.0 clients, `/agents/{id}` for 0.3 ones) and the routes under
that prefix serve that agent, with its own tasks. The stock a2a-sdk client, given the agent's
URL, reads its card and talks to it; plain httpx checks the 0.3 shapes, an unknown agent, the
scopes (a read key lists tasks, only a chat key sends) and OpenAPI."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from a2a.client import ClientConfig, create_client
from a2a.types import a2a_pb2 as pb

from switchyard.config.loader import parse_agent
from switchyard.llm.base import Finish, TextDelta, Usage, content_to_text
from switchyard.llm.function import FunctionModel
from switchyard.runtime.agent import Agent
from switchyard.runtime.host import AgentHost
from switchyard.server.app import create_app
from switchyard.server.security.scopes import required_scope, starts_run
from tests.support.a2a import msg03
from tests.support.live_server import LiveServer
from tests.support.security import bearer, create_key, production

S = pb.TaskState


def replying_as(name: str):
    async def reply(messages: list[dict[str, Any]], tools: Any, info: Any):
        text = f"{name}: {content_to_text(messages[-1]['content'])}"
        for i, word in enumerate(text.split(" ")):
            yield TextDelta(("" if i == 0 else " ") + word)
            await asyncio.sleep(0)
        yield Usage(input_tokens=1, output_tokens=len(text.split()))
        yield Finish("stop")
    return reply


def start_server(tmp_path) -> LiveServer:
    def factory() -> Any:
        agents = [Agent(parse_agent({"agentId": name, "storage": {"database": {
                      "type": "sqlite", "path": str(tmp_path / f"{name}.db")}}}),
                        llm_client=FunctionModel(replying_as(name), provider="scripted", model="scripted-1"))
                  for name in ("first", "second")]
        return create_app(AgentHost(agents, "first"))
    return LiveServer(factory).start()


@pytest.fixture
def live(tmp_path):
    server = start_server(tmp_path)
    yield server
    server.stop()



async def test_the_stock_sdk_client_talks_to_the_agent_whose_card_it_read(live):
    agent_url = f"{live.url}/agents/second"
    client = await create_client(agent_url, client_config=ClientConfig(
        streaming=False, supported_protocol_bindings=["HTTP+JSON"]))
    try:
        request = pb.SendMessageRequest(message=pb.Message(
            message_id="sdk-1", role=pb.Role.ROLE_USER, parts=[pb.Part(text="hello second")]))
        [event] = [e async for e in client.send_message(request)]
        task = event.task
        assert task.status.state == S.TASK_STATE_COMPLETED
        assert "".join(p.text for p in task.status.message.parts) == "second: hello second"
        got = await client.get_task(pb.GetTaskRequest(id=task.id))
        assert got.id == task.id and len(got.history) == 2
        assert [t.id for t in (await client.list_tasks(pb.ListTasksRequest())).tasks] == [task.id]
        from a2a.utils.errors import TaskNotCancelableError
        with pytest.raises(TaskNotCancelableError):
            await client.cancel_task(pb.CancelTaskRequest(id=task.id))
    finally:
        await client.close()

    streaming = await create_client(agent_url, client_config=ClientConfig(
        streaming=True, supported_protocol_bindings=["HTTP+JSON"]))
    try:
        request = pb.SendMessageRequest(message=pb.Message(
            message_id="sdk-2", role=pb.Role.ROLE_USER, parts=[pb.Part(text="streamed")]))
        events = [e async for e in streaming.send_message(request)]
        assert events[0].HasField("task")
        last = events[-1]
        assert last.HasField("status_update") and last.status_update.status.state == S.TASK_STATE_COMPLETED
    finally:
        await streaming.close()

    # Those tasks are the second agent's: the default agent's REST binding does not know them.
    with live.client() as c:
        assert c.get("/v1/tasks").json()["tasks"] == []
        assert c.get(f"/v1/tasks/{task.id}").status_code == 404
        assert len(c.get("/agents/second/v1/tasks").json()["tasks"]) == 2


def test_the_0_3_shapes_under_the_agents_prefix_and_an_unknown_agent(live):
    with live.client() as c:
        card = c.get("/agents/second/.well-known/agent-card.json").json()
        rest = {(i["protocolVersion"], i["url"]) for i in card["supportedInterfaces"]
                if i["protocolBinding"] == "HTTP+JSON"}
        assert rest == {("1.0", f"{live.url}/agents/second/v1"), ("0.3", f"{live.url}/agents/second")}
        sent = c.post("/agents/second/v1/message:send", json={"message": msg03("hi rest")})
        assert sent.status_code == 200, sent.text
        task = sent.json()
        assert task["kind"] == "task" and task["status"]["state"] == "completed"
        assert task["status"]["message"]["parts"] == [{"kind": "text", "text": "second: hi rest"}]
        assert task["metadata"]["switchyard"] == {"sessionId": task["id"], "agentId": "second"}
        assert c.get(f"/agents/second/v1/tasks/{task['id']}").json()["id"] == task["id"]
        # The session is the second agent's, as over its other APIs.
        history = c.get(f"/api/sessions/{task['id']}/history", params={"agentId": "second"}).json()["history"]
        assert [m["role"] for m in history] == ["user", "assistant"]
        done = c.post(f"/agents/second/v1/tasks/{task['id']}:cancel")
        assert done.status_code == 409 and done.json()["code"] == "task_not_cancelable"
        # The default agent reached by its id is the same binding as the root one.
        first = c.post("/agents/first/v1/message:send", json={"message": msg03("hi first")}).json()
        assert first["status"]["message"]["parts"][0]["text"] == "first: hi first"
        assert c.get(f"/v1/tasks/{first['id']}").status_code == 200
        for method, path in (("POST", "/agents/nobody/v1/message:send"), ("GET", "/agents/nobody/v1/tasks"),
                             ("GET", "/agents/nobody/v1/tasks/x"), ("POST", "/agents/nobody/v1/tasks/x:cancel")):
            r = c.request(method, path, json={"message": msg03("anyone?")} if method == "POST" else None)
            assert r.status_code == 404 and r.json()["code"] == "agent_not_found", (path, r.text)


def test_scopes_and_run_routes():
    for path in ("/agents/a/v1/message:send", "/agents/a/v1/message:stream"):
        assert required_scope("POST", path) == "chat" and starts_run("POST", path)
    assert required_scope("GET", "/agents/a/v1/tasks") == "read"
    assert required_scope("GET", "/agents/a/v1/tasks/t1") == "read"
    assert required_scope("POST", "/agents/a/v1/tasks/t1:cancel") == "chat"
    assert not starts_run("POST", "/agents/a/v1/tasks/t1:cancel")
    assert not starts_run("GET", "/agents/a/v1/tasks")


def test_keys_and_openapi(tmp_path, monkeypatch):
    production(monkeypatch)
    server = start_server(tmp_path)
    try:
        with server.client() as c:
            chat = bearer(create_key(c, "chatter", ["chat"]))
            reader = bearer(create_key(c, "reader", ["read"]))
            assert c.post("/agents/second/v1/message:send", json={"message": msg03("no key")}).status_code == 401
            assert c.post("/agents/second/v1/message:send", headers=reader,
                          json={"message": msg03("read only")}).status_code == 403
            mine = c.post("/agents/second/v1/message:send", headers=chat, json={"message": msg03("mine")})
            assert mine.status_code == 200, mine.text
            assert c.get("/agents/second/v1/tasks", headers=reader).json()["tasks"] == []  # not the reader's
            assert [t["id"] for t in c.get("/agents/second/v1/tasks", headers=chat).json()["tasks"]] == [
                mine.json()["id"]]
            paths = c.get("/openapi.json").json()["paths"]
        send = paths["/agents/{agent_id}/v1/message:send"]["post"]
        assert {p["name"] for p in send["parameters"]} == {"agent_id"} and "404" in send["responses"]
        assert {"/agents/{agent_id}/v1/message:stream", "/agents/{agent_id}/v1/tasks",
                "/agents/{agent_id}/v1/tasks/{task_id}", "/agents/{agent_id}/v1/tasks/{task_id}:cancel"} <= set(paths)
        listing = {p["name"] for p in paths["/agents/{agent_id}/v1/tasks"]["get"]["parameters"]}
        assert {"agent_id", "contextId", "status", "pageSize", "pageToken"} <= listing
    finally:
        server.stop()
