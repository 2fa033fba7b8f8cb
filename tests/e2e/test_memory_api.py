"""Memories over HTTP: CRUD with tags, source, pinned, filters and paging; validation errors
naming the field; memories belong to the key that made them; the agent's `memories` config
puts the session owner's memories in the system prompt; the memory_* tools."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from switchyard.llm.function import FunctionModel, tool_call
from tests.support.live_server import LiveServer
from tests.support.security import ROOT, bearer, create_key, production


def recording_model(reply: Any = "ok") -> FunctionModel:
    return FunctionModel(reply if callable(reply) else (lambda messages, tools, info: reply))


@contextlib.contextmanager
def serve(config: dict[str, Any] | None = None, model: FunctionModel | None = None) -> Iterator[LiveServer]:
    def factory() -> Any:
        from switchyard.config import parse_agent
        from switchyard.runtime.agent import Agent
        from switchyard.runtime.host import AgentHost
        from switchyard.server.app import create_app
        raw = {"agentId": "mem-agent", "storage": {"database": {"type": "in-memory"}}, **(config or {})}
        return create_app(AgentHost([Agent(parse_agent(raw, env={}), llm_client=model or recording_model())]))
    server = LiveServer(factory).start()
    try:
        yield server
    finally:
        server.stop()


def _create(c: Any, headers: dict[str, str], content: str, **body: Any) -> dict[str, Any]:
    response = c.post("/api/memory", headers=headers, json={"content": content, **body})
    assert response.status_code == 201, response.text
    assert response.json()["ok"] is True
    return response.json()["memory"]


def test_memory_crud_filters_and_paging():
    with serve() as server, server.client() as c:
        first = _create(c, {}, "likes green tea", tags=["food", "drinks"], metadata={"source": "user"})
        second = _create(c, {}, "works in Lisbon", tags=["work"], metadata={"pinned": True, "team": "infra"})
        third = _create(c, {}, "prefers short answers", metadata={"source": "system", "pinned": False})
        assert len(first["id"]) == 12 and first["tags"] == ["food", "drinks"]
        assert first["metadata"] == {"source": "user"} and first["createdAt"] == first["updatedAt"]
        assert second["metadata"] == {"pinned": True, "team": "infra"}     # other fields pass through
        assert "tags" not in third

        def ids(**params: Any) -> list[str]:
            response = c.get("/api/memory", params=params)
            assert response.status_code == 200, response.text
            return [m["id"] for m in response.json()["memories"]]

        assert ids() == [third["id"], second["id"], first["id"]]            # newest change first
        assert ids(tags="work,drinks") == [second["id"], first["id"]]       # any of the tags
        assert ids(tags="nothing") == []
        assert ids(source="system") == [third["id"]]
        assert ids(pinned="true") == [second["id"]]
        assert ids(pinned="false") == [third["id"], first["id"]]
        assert ids(limit=1, offset=1) == [second["id"]]
        assert ids(offset=5) == []

        got = c.get(f"/api/memory/{first['id']}").json()
        assert got == {"ok": True, "memory": first}
        changed = c.put(f"/api/memory/{first['id']}", json={"tags": ["tea"], "metadata": {"pinned": True}})
        assert changed.status_code == 200
        memory = changed.json()["memory"]
        assert memory["content"] == "likes green tea" and memory["tags"] == ["tea"]      # tags replaced
        assert memory["metadata"] == {"source": "user", "pinned": True}                  # metadata merged
        assert memory["updatedAt"] > first["updatedAt"]
        assert ids(pinned="true") == [first["id"], second["id"]]
        assert ids(tags="food") == []                                        # the old tags are gone

        deleted = c.delete(f"/api/memory/{first['id']}")
        assert deleted.json() == {"ok": True, "message": "Memory deleted successfully"}
        for response in (c.get(f"/api/memory/{first['id']}"), c.delete(f"/api/memory/{first['id']}"),
                         c.put(f"/api/memory/{first['id']}", json={"content": "x"})):
            assert response.status_code == 404 and response.json()["code"] == "memory_not_found"


def test_bad_memory_requests_name_the_field():
    with serve() as server, server.client() as c:
        cases = [({"content": ""}, "content"), ({}, "content"), ({"content": "x" * 10_001}, "content"),
                 ({"content": "x", "tags": [str(i) for i in range(11)]}, "tags"),
                 ({"content": "x", "tags": ["y" * 51]}, "tags[0]"),
                 ({"content": "x", "metadata": {"source": "robot"}}, "metadata.source"),
                 ({"content": "x", "metadata": {"blob": "z" * 20_000}}, "metadata"),
                 ({"content": "x", "owner": "someone-else"}, "owner")]
        for body, path in cases:
            response = c.post("/api/memory", json=body)
            assert response.status_code == 400, (body, response.text)
            assert response.json()["code"] == "validation_failed"
            assert response.json()["details"]["issues"][0]["path"] == path, response.json()
        assert c.get("/api/memory", params={"limit": 0}).status_code == 400
        assert c.get("/api/memory", params={"pinned": "perhaps"}).json()["details"]["issues"][0]["path"] == "pinned"
        assert c.post("/api/memory", content=b"{not json", headers={"content-type": "application/json"}
                      ).json()["code"] == "invalid_json"


def test_memories_belong_to_the_key_that_made_them(monkeypatch):
    production(monkeypatch)
    with serve() as server, server.client() as c:
        alice = bearer(create_key(c, "alice", ["chat"]))
        bob = bearer(create_key(c, "bob", ["chat"]))
        reader = bearer(create_key(c, "reader", ["read"]))
        mine = _create(c, alice, "alice's door code is 4321", tags=["secret"])
        assert c.post("/api/memory", headers=reader, json={"content": "x"}).status_code == 403
        assert c.get("/api/memory", headers=bob).json()["memories"] == []
        assert c.get("/api/memory", headers=bob, params={"tags": "secret"}).json()["memories"] == []
        for method, body in (("GET", None), ("PUT", {"content": "bob was here"}), ("DELETE", None)):
            response = c.request(method, f"/api/memory/{mine['id']}", headers=bob, json=body)
            assert response.status_code == 404 and response.json()["code"] == "memory_not_found"
            assert "4321" not in response.text
        theirs = _create(c, bob, "bob likes jazz")
        assert [m["id"] for m in c.get("/api/memory", headers=alice).json()["memories"]] == [mine["id"]]
        assert c.get(f"/api/memory/{mine['id']}", headers=alice).json()["memory"]["content"] == mine["content"]
        # An admin key sees and may change everyone's.
        assert {m["id"] for m in c.get("/api/memory", headers=ROOT).json()["memories"]} == {mine["id"], theirs["id"]}
        assert c.put(f"/api/memory/{theirs['id']}", headers=ROOT, json={"content": "bob likes bebop"}).status_code == 200
        assert c.get(f"/api/memory/{theirs['id']}", headers=bob).json()["memory"]["content"] == "bob likes bebop"


def test_the_session_owners_memories_are_in_the_system_prompt(monkeypatch):
    production(monkeypatch)
    model = recording_model("noted")
    config = {"systemPrompt": "You are helpful.",
              "memories": {"enabled": True, "limit": 2, "pinnedOnly": True, "includeTags": True,
                           "includeTimestamps": True}}
    with serve(config, model) as server, server.client() as c:
        alice = bearer(create_key(c, "alice", ["chat"]))
        bob = bearer(create_key(c, "bob", ["chat"]))
        _create(c, alice, "alice is vegetarian", tags=["food"], metadata={"pinned": True})
        _create(c, alice, "alice's oldest pinned memory is past the limit", metadata={"pinned": True})
        _create(c, alice, "alice lives in Porto", metadata={"pinned": True})
        _create(c, alice, "alice's unpinned note")
        _create(c, bob, "bob's pinned secret", metadata={"pinned": True})
        # A change makes a memory the newest: the limit keeps the two newest pinned ones.
        first = c.get("/api/memory", headers=alice, params={"tags": "food"}).json()["memories"][0]
        c.put(f"/api/memory/{first['id']}", headers=alice, json={"content": "alice is vegetarian"})

        assert c.post("/api/message-sync", headers=alice, json={"content": "what do I eat?"}).status_code == 200
        system = model.steps[-1].info.system
        assert system.startswith("You are helpful.\n\n## Memories")
        assert "- alice is vegetarian [tags: food] (" in system and " UTC)" in system
        assert "alice lives in Porto" in system
        assert "past the limit" not in system and "unpinned" not in system and "bob" not in system

        assert c.post("/api/message-sync", headers=bob, json={"content": "hello"}).status_code == 200
        system = model.steps[-1].info.system
        assert "bob's pinned secret" in system and "alice" not in system
        listed = c.get("/api/system-prompt/contributors", headers=bob).json()["contributors"]
        assert listed == [{"id": "inline", "priority": 0}, {"id": "memories", "priority": 40}]


def test_the_model_keeps_memories_with_the_memory_tools(monkeypatch):
    production(monkeypatch)

    def reply(messages: list[dict[str, Any]], tools: list[Any], info: Any) -> Any:
        if info.step == 1:
            return [tool_call("memory_create", {"content": "the user's cat is called Miso", "tags": ["pets"],
                                                "pinned": True})]
        if info.step == 2:
            return [tool_call("memory_list", {"tags": ["pets"]})]
        return f"listed: {messages[-1]['content'][0]['text']}"

    model = recording_model(reply)
    with serve({"memories": {"tools": True}}, model) as server, server.client() as c:
        alice = bearer(create_key(c, "alice", ["chat"]))
        bob = bearer(create_key(c, "bob", ["chat"]))
        names = {t["name"] for t in c.get("/api/tools", headers=ROOT).json()["tools"]}
        assert {"memory_create", "memory_list", "memory_update", "memory_delete"} <= names
        answer = c.post("/api/message-sync", headers=alice, json={"content": "my cat is Miso"})
        assert answer.status_code == 200 and "Miso" in answer.json()["response"]
        kept = c.get("/api/memory", headers=alice).json()["memories"]
        assert [(m["content"], m["tags"], m["metadata"]) for m in kept] == [
            ("the user's cat is called Miso", ["pets"], {"source": "system", "pinned": True})]
        assert c.get("/api/memory", headers=bob).json()["memories"] == []
        assert {"memory_create", "memory_list"} <= {t.name for t in model.steps[0].tools}


def test_the_memory_tools_reach_only_the_session_owners_memories(monkeypatch):
    production(monkeypatch)
    ids: dict[str, str] = {}

    def reply(messages: list[dict[str, Any]], tools: list[Any], info: Any) -> Any:
        if info.step == 1:     # another key's memory: as if it did not exist
            return [tool_call("memory_update", {"id": ids["bob"], "content": "hijacked"}),
                    tool_call("memory_delete", {"id": ids["bob"]})]
        if info.step == 2:
            return [tool_call("memory_update", {"id": ids["alice"], "content": "alice likes rye bread",
                                                "pinned": True}),
                    tool_call("memory_create", {"content": ""})]          # refused: empty
        if info.step == 3:
            return [tool_call("memory_delete", {"id": ids["alice"]})]
        return "done"

    model = recording_model(reply)
    with serve({"memories": {"tools": True}}, model) as server, server.client() as c:
        alice = bearer(create_key(c, "alice", ["chat"]))
        bob = bearer(create_key(c, "bob", ["chat"]))
        ids["bob"] = _create(c, bob, "bob's private note")["id"]
        ids["alice"] = _create(c, alice, "alice likes bread")["id"]
        answer = c.post("/api/message-sync", headers=alice, json={"content": "tidy my memories"})
        assert answer.status_code == 200 and answer.json()["response"] == "done"
        results = [m for m in c.get(f"/api/sessions/{answer.json()['sessionId']}/history", headers=alice)
                   .json()["history"] if m["role"] == "tool"]
        outcome = [(m["name"], m["success"]) for m in results]
        assert outcome == [("memory_update", False), ("memory_delete", False), ("memory_update", True),
                           ("memory_create", False), ("memory_delete", True)]
        assert "not found" in results[0]["content"][0]["text"]
        assert c.get(f"/api/memory/{ids['bob']}", headers=bob).json()["memory"]["content"] == "bob's private note"
        assert c.get("/api/memory", headers=alice).json()["memories"] == []
