"""The reference's workspaces, model-picker state and discovery routes over HTTP on a real
server: shapes, persistence in the agent's SQLite file across a restart, per-key model-picker
state, scopes, and validation errors naming the field."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from switchyard.llm.function import FunctionModel
from tests.support.live_server import LiveServer
from tests.support.security import ROOT, bearer, create_key, production


@contextlib.contextmanager
def serve(db: Path, agents: tuple[str, ...] = ("desk",)) -> Iterator[LiveServer]:
    def factory() -> Any:
        from switchyard.config import parse_agent
        from switchyard.runtime.agent import Agent
        from switchyard.runtime.host import AgentHost
        from switchyard.server.app import create_app
        hosted = [Agent(parse_agent({"agentId": name, "storage": {"database": {"type": "sqlite", "path": str(db)}}},
                                    env={}), llm_client=FunctionModel(lambda m, t, i: "ok"))
                  for name in agents]
        return create_app(AgentHost(hosted))
    server = LiveServer(factory).start()
    try:
        yield server
    finally:
        server.stop()


def test_workspaces_set_reuse_clear_and_survive_a_restart(tmp_path):
    db = tmp_path / "agent.db"
    with serve(db, ("desk", "other")) as server, server.client() as c:
        assert c.get("/api/workspaces").json() == {"workspaces": []}
        assert c.get("/api/workspaces/active").json() == {"workspace": None}
        first = c.post("/api/workspaces/active", json={"path": "/srv/project-a/", "name": "A"})
        assert first.status_code == 200, first.text
        a = first.json()["workspace"]
        assert a["path"] == "/srv/project-a" and a["name"] == "A" and a["createdAt"] == a["lastActiveAt"]
        b = c.post("/api/workspaces/active", json={"path": "/srv/project-b"}).json()["workspace"]
        assert "name" not in b and b["id"] != a["id"]
        # The same folder again (written differently): its record, made active, name kept.
        again = c.post("/api/workspaces/active", json={"path": "/srv/./project-a"}).json()["workspace"]
        assert (again["id"], again["name"], again["createdAt"]) == (a["id"], "A", a["createdAt"])
        assert again["lastActiveAt"] >= b["lastActiveAt"]
        assert c.get("/api/workspaces/active").json()["workspace"]["id"] == a["id"]
        assert [w["id"] for w in c.get("/api/workspaces").json()["workspaces"]] == [a["id"], b["id"]]
        # Another agent on the same database has its own workspaces.
        assert c.get("/api/workspaces", params={"agentId": "other"}).json() == {"workspaces": []}

        for body, field in (({"path": "relative/dir"}, "path"), ({"path": ""}, "path"),
                            ({"path": "/x", "colour": "red"}, "colour"), ({}, "path")):
            bad = c.post("/api/workspaces/active", json=body)
            assert bad.status_code == 400, (body, bad.text)
            assert bad.json()["code"] == "validation_failed"
            assert [i["path"] for i in bad.json()["details"]["issues"]] == [field], bad.text
        relative = c.post("/api/workspaces/active", json={"path": "relative/dir"}).json()
        assert relative["message"] == "path: Value error, must be an absolute path (and hold no NUL character)"
        assert c.get("/api/workspaces", params={"agentId": "nobody"}).status_code == 404

    with serve(db, ("desk", "other")) as server, server.client() as c:      # a restart: kept
        assert c.get("/api/workspaces/active").json()["workspace"]["id"] == a["id"]
        cleared = c.delete("/api/workspaces/active")
        assert cleared.status_code == 200 and cleared.json() == {"workspace": None}
        assert c.get("/api/workspaces/active").json() == {"workspace": None}
        assert len(c.get("/api/workspaces").json()["workspaces"]) == 2       # the records stay


def test_model_picker_state_is_per_key_and_persisted(tmp_path, monkeypatch):
    production(monkeypatch)
    db = tmp_path / "agent.db"
    with serve(db) as server, server.client() as c:
        alice = bearer(create_key(c, "alice", ["chat"]))
        bob = bearer(create_key(c, "bob", ["chat"]))
        reader = bearer(create_key(c, "reader", ["read"]))
        empty = c.get("/api/llm/model-picker-state", headers=alice).json()
        assert empty["recents"] == empty["favorites"] == empty["custom"] == []
        assert 0 < len(empty["featured"]) <= 8
        assert all(f["source"] == "catalog" and "supportedFileTypes" in f for f in empty["featured"])

        for model in ("gpt-4o", "gpt-4o-mini", "gpt-4o"):
            r = c.post("/api/llm/model-picker-state/recents", headers=alice,
                       json={"provider": "openai", "model": model})
            assert r.status_code == 200 and r.json() == {"ok": True}
        toggled = c.post("/api/llm/model-picker-state/favorites/toggle", headers=alice,
                         json={"provider": "openai-compatible", "model": "my-model", "baseURL": "http://127.0.0.1:9/v1"})
        assert toggled.json() == {"ok": True, "isFavorite": True}
        state = c.get("/api/llm/model-picker-state", headers=alice).json()
        assert [(e["provider"], e["model"]) for e in state["recents"]] == [("openai", "gpt-4o"), ("openai", "gpt-4o-mini")]
        assert state["recents"][0]["displayName"] == "GPT-4o" and state["recents"][0]["source"] == "catalog"
        assert state["favorites"] == [{"provider": "openai-compatible", "model": "my-model",
                                       "baseURL": "http://127.0.0.1:9/v1", "supportedFileTypes": [],
                                       "source": "custom"}]
        # Bob's state is his own.
        assert c.get("/api/llm/model-picker-state", headers=bob).json()["recents"] == []
        # Toggling again removes; PUT replaces (duplicates once).
        again = c.post("/api/llm/model-picker-state/favorites/toggle", headers=alice,
                       json={"provider": "openai-compatible", "model": "my-model", "baseURL": "http://127.0.0.1:9/v1"})
        assert again.json() == {"ok": True, "isFavorite": False}
        put = c.put("/api/llm/model-picker-state/favorites", headers=alice,
                    json={"favorites": [{"provider": "anthropic", "model": "claude-haiku-4-5"},
                                        {"provider": "anthropic", "model": "claude-haiku-4-5"}]})
        assert put.json() == {"ok": True, "count": 1}
        # A read-only key reads but may not change; bad input names the field.
        assert c.get("/api/llm/model-picker-state", headers=reader).status_code == 200
        assert c.post("/api/llm/model-picker-state/recents", headers=reader,
                      json={"provider": "openai", "model": "gpt-4o"}).status_code == 403
        bad = c.post("/api/llm/model-picker-state/recents", headers=alice, json={"provider": "nope", "model": "x"})
        assert bad.status_code == 400 and "provider" in bad.text
        # Workspaces: reading is `read`, setting is `admin`.
        assert c.post("/api/workspaces/active", headers=alice, json={"path": "/srv"}).status_code == 403
        assert c.post("/api/workspaces/active", headers=ROOT, json={"path": "/srv"}).status_code == 200

    with serve(db) as server, server.client() as c:
        alice_again = bearer(create_key(c, "alice-2", ["chat"]))
        assert c.get("/api/llm/model-picker-state", headers=alice_again).json()["favorites"] == []
        # The state was the key name's: a restart keeps alice's (her key is still valid).
        assert c.get("/api/llm/model-picker-state", headers=alice).json()["favorites"][0]["model"] == "claude-haiku-4-5"


def test_discovery_lists_what_agent_files_may_configure(tmp_path):
    with serve(tmp_path / "agent.db") as server, server.client() as c:
        found = c.get("/api/discovery").json()
        assert {f["type"] for f in found["storage"]} >= {"sqlite", "postgres", "in-memory"}
        assert {f["type"] for f in found["compaction"]} == {"reactive-overflow", "noop"}
        assert "filesystem-tools" in {f["type"] for f in found["toolFactories"]}
        assert all(f["category"] == "tools" for f in found["toolFactories"])
        names = {t["name"] for t in found["builtinTools"]}
        assert {"ask_user", "http_request", "search_history"} <= names
        assert all(t["description"] for t in found["builtinTools"])
        # The agent file validator accepts every tool family discovery names.
        from switchyard.config import parse_agent
        for family in found["toolFactories"]:
            parse_agent({"agentId": "probe", "tools": [{"type": family["type"]}]}, env={})
