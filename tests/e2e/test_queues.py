"""Steer and follow-up queues over real HTTP: steer guidance reaches the running turn at its
next step, follow-ups run after it in order, the reference's shapes and 404s, the queue
events, a hard cancel that clears the queues, and webhooks seeing the queue events."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from switchyard.llm.base import content_to_text
from switchyard.llm.function import FunctionModel, tool_call
from tests.support.live_server import LiveServer
from tests.support.sse import sse_events


def user_texts(messages: list[dict[str, Any]]) -> list[str]:
    return [content_to_text(m["content"]) for m in messages if m["role"] == "user"]


def model() -> FunctionModel:
    """`slow` takes a second and calls a tool (so the turn has a second step); `slow-text`
    takes a second and answers; anything else answers at once. Answers list the user texts
    the step saw."""

    async def reply(messages: list[dict[str, Any]], tools: Any, info: Any) -> Any:
        last = messages[-1]
        if last["role"] == "user" and content_to_text(last["content"]) == "slow":
            await asyncio.sleep(1.0)
            return [tool_call("missing_tool", {})]
        if last["role"] == "user" and content_to_text(last["content"]) == "slow-text":
            await asyncio.sleep(1.0)
        return "seen: " + " | ".join(user_texts(messages))

    return FunctionModel(reply, provider="scripted", model="scripted-1")


def server(tmp_path) -> LiveServer:
    def factory() -> Any:
        from switchyard.config import parse_agent
        from switchyard.runtime.agent import Agent
        from switchyard.runtime.host import AgentHost
        from switchyard.server.app import create_app
        from switchyard.server.settings import ServerSettings
        notes = tmp_path / "notes"
        notes.mkdir(exist_ok=True)
        (notes / "faq.md").write_text("Cats sleep 15 hours a day.")
        agent = Agent(parse_agent({"agentId": "queues", "storage": {"database": {
            "type": "sqlite", "path": str(tmp_path / "agent.db")}},
            "resources": [{"type": "filesystem", "paths": [str(notes)], "includeExtensions": [".md"]}]},
            env={}), llm_client=model())
        return create_app(AgentHost([agent]), settings=ServerSettings.from_env({"SWITCHYARD_HOME": str(tmp_path)}),
                          shutdown_grace=3)
    return LiveServer(factory)


def wait_until(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.03)
    raise AssertionError("condition not met in time")


def busy(c, sid: str) -> bool:
    r = c.get(f"/api/sessions/{sid}/history")
    return r.status_code == 200 and r.json()["isBusy"]


def test_steer_joins_the_running_turn_at_its_next_step(tmp_path):
    with server(tmp_path) as live, live.client() as c:
        events: list[tuple[str, Any]] = []

        def stream() -> None:
            with live.client() as s, s.stream("POST", "/api/message-stream",
                                              json={"content": "slow", "sessionId": "st"}) as r:
                events.extend(sse_events(r))

        t = threading.Thread(target=stream)
        t.start()
        wait_until(lambda: busy(c, "st"))
        r = c.post("/api/steer/st", json={"content": "also mention cats"})
        assert r.status_code == 201, r.text
        queued = r.json()
        assert queued["queued"] is True and queued["position"] == 1
        t.join(20)
        names = [n for n, _ in events]
        assert names[-1] == "run:complete"
        assert "message:queued" in names and "message:dequeued" in names
        dequeued = dict(events)["message:dequeued"]
        assert dequeued["queue"] == "steer" and dequeued["ids"] == [queued["id"]]
        assert dict(events)["llm:response"]["content"] == "seen: slow | also mention cats"
        history = c.get("/api/sessions/st/history").json()["history"]
        assert [m["role"] for m in history] == ["user", "assistant", "tool", "user", "assistant"]
        assert history[3]["content"] == [{"type": "text", "text": "also mention cats"}]
        assert c.get("/api/steer/st").json() == {"messages": [], "count": 0}


def test_a_steer_messages_resource_mentions_are_expanded(tmp_path):
    with server(tmp_path) as live, live.client() as c:
        assert c.post("/api/message", json={"content": "slow", "sessionId": "sm"}).status_code == 202
        wait_until(lambda: busy(c, "sm"))
        assert c.post("/api/steer/sm", json={"content": "use @faq.md"}).status_code == 201
        wait_until(lambda: not busy(c, "sm"))
        history = c.get("/api/sessions/sm/history").json()["history"]
        steered = content_to_text(history[3]["content"])
        assert history[3]["metadata"]["queue"] == "steer"
        assert steered == (f"use \n--- Content from resource: faq.md ({tmp_path}/notes/faq.md) ---\n"
                           "Cats sleep 15 hours a day.\n--- End of resource content ---\n")
        assert history[4]["content"] == "seen: slow | " + steered


def test_follow_ups_run_after_the_turn_in_order_and_can_be_removed(tmp_path):
    with server(tmp_path) as live, live.client() as c:
        assert c.post("/api/message", json={"content": "slow-text", "sessionId": "fu"}).status_code == 202
        wait_until(lambda: busy(c, "fu"))
        first = c.post("/api/follow-up/fu", json={"content": "second"}).json()
        dropped = c.post("/api/follow-up/fu", json={"content": [{"type": "text", "text": "dropped"}]}).json()
        third = c.post("/api/follow-up/fu", json={"content": "third", "kind": "background"}).json()
        assert [first["position"], dropped["position"], third["position"]] == [1, 2, 3]
        listed = c.get("/api/follow-up/fu").json()
        assert listed["count"] == 3
        assert listed["messages"][0]["content"] == [{"type": "text", "text": "second"}]
        assert listed["messages"][2]["kind"] == "background" and isinstance(listed["messages"][0]["queuedAt"], int)
        assert c.delete(f"/api/follow-up/fu/{dropped['id']}").json() == {"removed": True, "id": dropped["id"]}
        again = c.delete(f"/api/follow-up/fu/{dropped['id']}")
        assert again.status_code == 404 and again.json()["code"] == "follow_up_message_not_found"

        def answers() -> list[str]:
            h = c.get("/api/sessions/fu/history").json()["history"]
            return [m["content"] for m in h if m["role"] == "assistant"]
        done = wait_until(lambda: len(answers()) == 3 and answers())
        assert done == ["seen: slow-text", "seen: slow-text | second", "seen: slow-text | second | third"]
        assert c.get("/api/follow-up/fu").json()["count"] == 0


def test_a_follow_up_to_an_idle_session_runs_at_once(tmp_path):
    with server(tmp_path) as live, live.client() as c:
        assert c.post("/api/message-sync", json={"content": "hi", "sessionId": "idle"}).status_code == 200
        assert c.post("/api/follow-up/idle", json={"content": "more"}).status_code == 201
        wait_until(lambda: c.get("/api/sessions/idle/history").json()["history"][-1]["content"] == "seen: hi | more")


def test_steer_that_finds_no_running_turn_runs_as_the_next_turn(tmp_path):
    with server(tmp_path) as live, live.client() as c:
        assert c.post("/api/message-sync", json={"content": "hi", "sessionId": "late"}).status_code == 200
        assert c.post("/api/steer/late", json={"content": "too late to steer"}).status_code == 201
        wait_until(lambda: c.get("/api/sessions/late/history").json()["history"][-1]["content"]
                   == "seen: hi | too late to steer")


def test_hard_cancel_clears_the_queues_and_errors_name_the_problem(tmp_path):
    with server(tmp_path) as live, live.client() as c:
        assert c.post("/api/message", json={"content": "slow-text", "sessionId": "hc"}).status_code == 202
        wait_until(lambda: busy(c, "hc"))
        c.post("/api/follow-up/hc", json={"content": "never"})
        c.post("/api/steer/hc", json={"content": "never either"})
        r = c.post("/api/sessions/hc/cancel", json={"clearQueue": True})
        assert r.json() == {"cancelled": True, "sessionId": "hc", "queueCleared": True, "clearedCount": 2}
        assert c.get("/api/follow-up/hc").json()["count"] == 0 and c.get("/api/steer/hc").json()["count"] == 0
        wait_until(lambda: not busy(c, "hc"))
        after = c.post("/api/message-sync", json={"content": "after", "sessionId": "hc"})
        assert after.status_code == 200 and after.json()["response"] == "seen: slow-text | after"
        # The reference's errors.
        assert c.get("/api/steer/nope").status_code == 404
        assert c.post("/api/follow-up/nope", json={"content": "x"}).status_code == 404
        assert c.delete("/api/steer/nope").status_code == 404
        assert c.delete("/api/steer/hc/missing").json()["code"] == "steer_message_not_found"
        assert c.get("/api/queue/hc").status_code == 404
        empty = c.post("/api/steer/hc", json={"content": "  "})
        assert empty.status_code == 400, empty.text
        assert [issue["path"] for issue in empty.json()["details"]["issues"]] == ["content"]
        bad_kind = c.post("/api/steer/hc", json={"content": "x", "kind": "urgent"})
        assert bad_kind.status_code == 400
        assert c.delete("/api/steer/hc").json() == {"cleared": True, "count": 0}
