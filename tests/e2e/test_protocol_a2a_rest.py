"""A2A over REST (the HTTP+JSON binding at /v1) end to end: the stock a2a-sdk client choosing
the HTTP+JSON interface from the card (A2A 1.0), and plain httpx with the reference's 0.3
shapes: send, stream, get, list, cancel, the errors and their statuses, and owner isolation."""

from __future__ import annotations

import asyncio
import time
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
from tests.support.a2a import msg03
from tests.support.live_server import LiveServer
from tests.support.security import ROOT, bearer, create_key, production
from tests.support.sse import iter_sse

S = pb.TaskState


async def _reply(messages: list[dict[str, Any]], tools: Any, info: Any):
    prompt = content_to_text(messages[-1]["content"])
    text = f"Echo: {prompt}"
    for i, word in enumerate(text.split(" ")):
        yield TextDelta(("" if i == 0 else " ") + word)
        await asyncio.sleep(0.3 if prompt.startswith("SLOW") else 0)
    yield Usage(input_tokens=1, output_tokens=len(text.split()))
    yield Finish("stop")


def start_server(tmp_path) -> LiveServer:
    def factory() -> Any:
        loaded = parse_agent({"agentId": "rest-agent",
                              "storage": {"database": {"type": "sqlite", "path": str(tmp_path / "rest.db")}}})
        return create_app(AgentHost([Agent(loaded, llm_client=FunctionModel(_reply, provider="scripted",
                                                                             model="scripted-1"))]))
    return LiveServer(factory).start()


@pytest.fixture
def live(tmp_path):
    server = start_server(tmp_path)
    yield server
    server.stop()



def test_send_get_list_and_cancel_with_the_reference_shapes(live):
    with live.client() as c:
        sent = c.post("/v1/message:send", json={"message": msg03("hello rest")})
        assert sent.status_code == 200, sent.text
        task = sent.json()
        assert task["kind"] == "task" and task["id"] == task["contextId"]
        assert task["status"]["state"] == "completed"
        assert task["status"]["message"]["parts"] == [{"kind": "text", "text": "Echo: hello rest"}]
        assert [p["text"] for p in task["artifacts"][0]["parts"]] == ["Echo: hello rest"]
        assert [m["role"] for m in task["history"]] == ["user", "agent"]
        assert task["metadata"]["dexto"] == {"sessionId": task["id"]}

        # The same task continues with its id; then reads of it.
        more = c.post("/v1/message:send", json={"message": msg03("again", taskId=task["id"]),
                                                "configuration": {"historyLength": 2}})
        assert more.json()["id"] == task["id"] and len(more.json()["history"]) == 2
        got = c.get(f"/v1/tasks/{task['id']}")
        assert got.status_code == 200 and len(got.json()["history"]) == 4
        assert len(c.get(f"/v1/tasks/{task['id']}", params={"historyLength": 1}).json()["history"]) == 1
        other = c.post("/v1/message:send", json={"message": msg03("second task")}).json()

        listed = c.get("/v1/tasks").json()
        assert listed["totalSize"] == 2 and listed["nextPageToken"] == ""
        assert {t["id"] for t in listed["tasks"]} == {task["id"], other["id"]}
        page = c.get("/v1/tasks", params={"pageSize": 1}).json()
        assert len(page["tasks"]) == 1 and page["pageSize"] == 1 and page["nextPageToken"] == "1"
        assert c.get("/v1/tasks", params={"pageSize": 1, "pageToken": "1"}).json()["nextPageToken"] == ""
        only = c.get("/v1/tasks", params={"contextId": other["id"], "status": "completed",
                                          "includeArtifacts": "false"}).json()
        assert [t["id"] for t in only["tasks"]] == [other["id"]] and "artifacts" not in only["tasks"][0]
        assert c.get("/v1/tasks", params={"status": "canceled"}).json()["tasks"] == []

        # Cancel: a finished task cannot be; an unknown one is not found.
        done = c.post(f"/v1/tasks/{task['id']}:cancel")
        assert done.status_code == 409 and done.json()["code"] == "task_not_cancelable"
        unknown = c.get("/v1/tasks/no-such-task")
        assert unknown.status_code == 404 and unknown.json()["code"] == "task_not_found"
        assert c.post("/v1/tasks/no-such-task:cancel").status_code == 404


def test_cancel_a_running_task(live):
    with live.client() as c:
        sent = c.post("/v1/message:send", json={"message": msg03("SLOW one two three four five six seven"),
                                                "configuration": {"blocking": False}})
        assert sent.status_code == 200, sent.text
        task_id = sent.json()["id"]
        assert sent.json()["status"]["state"] in ("submitted", "working")
        time.sleep(0.5)
        assert c.get(f"/v1/tasks/{task_id}").json()["status"]["state"] == "working"
        canceled = c.post(f"/v1/tasks/{task_id}:cancel")
        assert canceled.status_code == 200, canceled.text
        assert canceled.json()["status"]["state"] == "canceled"
        assert c.get(f"/v1/tasks/{task_id}").json()["status"]["state"] == "canceled"
        assert c.post(f"/v1/tasks/{task_id}:cancel").status_code == 409


def test_stream_sends_the_task_then_its_updates(live):
    with live.client() as c, c.stream("POST", "/v1/message:stream",
                                      json={"message": msg03("stream me please")}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [data for _, data in iter_sse(response)]
    assert "jsonrpc" not in events[0] and events[0]["kind"] == "task"      # bare results, no envelope
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "task" and "artifact-update" in kinds and kinds[-1] == "status-update"
    assert events[-1]["status"]["state"] == "completed" and events[-1]["final"] is True
    text = "".join(p["text"] for e in events if e["kind"] == "artifact-update" for p in e["artifact"]["parts"])
    assert text == "Echo: stream me please"


def test_bad_requests_get_the_envelope_with_the_right_status(live):
    with live.client() as c:
        for body in ([1, 2], {"message": "hi"}, {}, {"message": {"role": "user", "parts": []}}):
            bad = c.post("/v1/message:send", json=body)
            assert bad.status_code == 400, (body, bad.text)
            assert set(bad.json()) >= {"error", "code", "message"}
        broken = c.post("/v1/message:send", content=b"{not json", headers={"content-type": "application/json"})
        assert broken.status_code == 400 and broken.json()["code"] == "invalid_json"
        assert c.post("/v1/message:send", content=b"hi", headers={"content-type": "text/plain"}).status_code == 415
        bad_id = c.post("/v1/message:send", json={"message": msg03("x", taskId="bad id with spaces")})
        assert bad_id.status_code == 400 and bad_id.json()["code"] == "invalid_params"
        assert c.get("/v1/tasks", params={"pageSize": "many"}).status_code == 400
        assert c.get("/v1/tasks", params={"pageSize": 1000}).status_code == 400
        assert c.get("/v1/tasks", params={"status": "sleeping"}).status_code == 400
        assert c.get("/v1/tasks", params={"includeArtifacts": "maybe"}).status_code == 400
        assert c.post("/v1/message:stream", json={"message": {}}).status_code == 400


def test_the_a2a_version_header_selects_the_1_0_shapes(live):
    with live.client() as c:
        headers = {"A2A-Version": "1.0"}
        sent = c.post("/v1/message:send", headers=headers, json={"message": {
            "messageId": "m-10", "role": "ROLE_USER", "parts": [{"text": "one point oh"}]}})
        assert sent.status_code == 200, sent.text
        task = sent.json()["task"]
        assert task["status"]["state"] == "TASK_STATE_COMPLETED"
        got = c.get(f"/v1/tasks/{task['id']}", headers=headers).json()
        assert got["id"] == task["id"] and got["history"][0]["role"] == "ROLE_USER"
        listed = c.get("/v1/tasks", headers=headers).json()
        assert listed["totalSize"] == 1 and listed["tasks"][0]["id"] == task["id"]
        missing = c.get("/v1/tasks/nope", headers=headers)
        assert missing.status_code == 404
        error = missing.json()["error"]
        assert error["status"] == "NOT_FOUND" and error["details"][0]["reason"] == "TASK_NOT_FOUND"
        bad = c.post("/v1/message:send", headers=headers, json=[])
        assert bad.status_code == 400 and bad.json()["error"]["details"][0]["reason"] == "INVALID_PARAMS"
        # A 1.0 message without the header is recognised by its role.
        bare = c.post("/v1/message:send", json={"message": {
            "messageId": "m-11", "role": "ROLE_USER", "parts": [{"text": "no header"}]}})
        assert bare.json()["task"]["status"]["state"] == "TASK_STATE_COMPLETED"


def test_the_route_limits_are_the_services():
    from switchyard.server.protocols import a2a_listing, a2a_model, a2a_rest_routes
    assert a2a_rest_routes.MAX_PAGE_SIZE == a2a_model.MAX_PAGE_SIZE
    assert a2a_rest_routes.MAX_LIST_HISTORY == a2a_listing.MAX_LIST_HISTORY


def test_the_card_offers_the_rest_binding(live):
    with live.client() as c:
        card = c.get("/.well-known/agent-card.json").json()
    rest = {(i["protocolVersion"], i["url"]) for i in card["supportedInterfaces"] if i["protocolBinding"] == "HTTP+JSON"}
    assert rest == {("1.0", f"{live.url}/v1"), ("0.3", live.url)}


async def test_the_stock_sdk_client_over_http_json(live):
    client = await create_client(live.url, client_config=ClientConfig(
        streaming=False, supported_protocol_bindings=["HTTP+JSON"]))
    try:
        request = pb.SendMessageRequest(message=pb.Message(
            message_id="sdk-1", role=pb.Role.ROLE_USER, parts=[pb.Part(text="from the sdk")]))
        [event] = [e async for e in client.send_message(request)]
        task = event.task
        assert task.status.state == S.TASK_STATE_COMPLETED
        assert "".join(p.text for p in task.status.message.parts) == "Echo: from the sdk"
        got = await client.get_task(pb.GetTaskRequest(id=task.id))
        assert got.id == task.id and len(got.history) == 2
        listed = await client.list_tasks(pb.ListTasksRequest())
        assert [t.id for t in listed.tasks] == [task.id]
        # The binding's errors (google.rpc.Status with the A2A reason): the SDK's own exceptions.
        from a2a.utils.errors import TaskNotCancelableError, TaskNotFoundError
        with pytest.raises(TaskNotCancelableError):
            await client.cancel_task(pb.CancelTaskRequest(id=task.id))
        with pytest.raises(TaskNotFoundError):
            await client.get_task(pb.GetTaskRequest(id="no-such-task"))
    finally:
        await client.close()

    streaming = await create_client(live.url, client_config=ClientConfig(
        streaming=True, supported_protocol_bindings=["HTTP+JSON"]))
    try:
        request = pb.SendMessageRequest(message=pb.Message(
            message_id="sdk-2", role=pb.Role.ROLE_USER, parts=[pb.Part(text="streamed by the sdk")]))
        events = [e async for e in streaming.send_message(request)]
        assert events[0].HasField("task")
        last = events[-1]
        assert last.HasField("status_update") and last.status_update.status.state == S.TASK_STATE_COMPLETED
    finally:
        await streaming.close()


def test_tasks_belong_to_the_key_that_made_them(tmp_path, monkeypatch):
    production(monkeypatch)
    server = start_server(tmp_path)
    try:
        with server.client() as c:
            alice = bearer(create_key(c, "alice", ["chat"]))
            bob = bearer(create_key(c, "bob", ["chat"]))
            reader = bearer(create_key(c, "reader", ["read"]))
            assert c.post("/v1/message:send", json={"message": msg03("no key")}).status_code == 401
            mine = c.post("/v1/message:send", headers=alice, json={"message": msg03("alice's")}).json()
            assert c.get(f"/v1/tasks/{mine['id']}", headers=alice).status_code == 200
            assert c.get(f"/v1/tasks/{mine['id']}", headers=bob).status_code == 404
            assert c.post(f"/v1/tasks/{mine['id']}:cancel", headers=bob).status_code == 404
            taken = c.post("/v1/message:send", headers=bob, json={"message": msg03("bob's", taskId=mine["id"])})
            assert taken.status_code == 404
            assert c.get("/v1/tasks", headers=bob).json()["tasks"] == []
            assert [t["id"] for t in c.get("/v1/tasks", headers=alice).json()["tasks"]] == [mine["id"]]
            assert c.post("/v1/message:send", headers=reader, json={"message": msg03("read only")}).status_code == 403
            assert c.get("/v1/tasks", headers=ROOT).json()["totalSize"] == 1
    finally:
        server.stop()
