"""The conversation API end to end: a real uvicorn server, the echo model, a real SQLite file."""

from __future__ import annotations

import json

import pytest

from tests.support.live_server import serve_agents
from tests.support.sse import sse_events


def echo_agent(tmp_path, **extra):
    return {"agentId": "echo-agent", "llm": {"provider": "echo"}, "greeting": "Hello from echo",
            "storage": {"database": {"type": "sqlite", "path": str(tmp_path / "db.sqlite")}}, **extra}


@pytest.fixture
def server(tmp_path):
    with serve_agents(echo_agent(tmp_path)) as live:
        yield live


@pytest.fixture
def client(server):
    with server.client() as c:
        yield c


def test_health_openapi_docs_card_greeting(client):
    r = client.get("/health")
    assert r.status_code == 200 and r.text == "OK" and r.headers["content-type"].startswith("text/plain")
    assert r.headers["x-content-type-options"] == "nosniff"

    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path in ("/api/message", "/api/message-sync", "/api/message-stream", "/api/reset", "/api/sessions",
                 "/api/sessions/{session_id}", "/api/sessions/{session_id}/history",
                 "/api/sessions/{session_id}/fork", "/api/sessions/{session_id}/cancel",
                 "/api/sessions/{session_id}/events", "/api/sessions/{session_id}/load",
                 "/api/llm/current", "/api/llm/switch", "/api/llm/catalog", "/api/greeting", "/health",
                 "/.well-known/agent-card.json"):
        assert path in spec["paths"], path
    assert client.get("/docs").status_code == 200
    # The polled reads are plain Starlette routes (server/plain_routes.py): still documented.
    current = spec["paths"]["/api/llm/current"]["get"]
    assert [p["name"] for p in current["parameters"]] == ["sessionId", "agentId"]
    assert current["tags"] == ["llm"] and current["summary"]
    for path in ("/api/agents", "/api/agents/current", "/api/greeting"):
        assert spec["paths"][path]["get"]["responses"]["200"], path
    operation_ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))

    card = client.get("/.well-known/agent-card.json").json()
    assert card["name"] == "echo-agent" and card["url"].endswith("/jsonrpc")
    assert card["capabilities"]["streaming"] is True and card["skills"]
    assert client.get("/api/greeting").json() == {"greeting": "Hello from echo"}


def test_plain_routes_errors_and_methods(client):
    # Errors raised by a plain route get the same envelope as any other route's.
    r = client.get("/api/llm/current?agentId=nope")
    assert r.status_code == 404 and "nope" in r.json()["message"] and r.json()["code"]
    r = client.get("/api/llm/current?sessionId=missing")
    assert r.status_code == 404 and r.json()["code"] == "session_not_found"
    assert client.post("/api/llm/current").status_code == 405
    assert client.get("/api/agents/current").json()["id"] == "echo-agent"
    r = client.get("/api/llm/current")
    assert r.status_code == 200 and r.json()["config"]["provider"] == "echo"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_message_sync_and_history(client):
    r = client.post("/api/message-sync", json={"content": "hello world", "sessionId": "s1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["response"] == "Echo: hello world"
    assert body["sessionId"] == "s1" and body["provider"] == "echo" and body["model"] == "echo"
    assert body["tokenUsage"]["totalTokens"] > 0 and body["messageId"]

    history = client.get("/api/sessions/s1/history").json()
    assert history["isBusy"] is False
    assert [(m["role"], m["content"]) for m in history["history"]] == [
        ("user", "hello world"), ("assistant", "Echo: hello world")]
    assert history["history"][1]["id"] == body["messageId"]

    session = client.get("/api/sessions/s1").json()["session"]
    assert session["messageCount"] == 2 and session["history"] == 2 and session["title"] == "hello world"


def test_message_sync_without_session_creates_one(client):
    body = client.post("/api/message-sync", json={"content": "hi"}).json()
    assert len(body["sessionId"]) == 36
    assert client.get(f"/api/sessions/{body['sessionId']}").status_code == 200


def test_message_stream_frames_and_order(client):
    with client.stream("POST", "/api/message-stream", json={"content": "one two three four five", "sessionId": "st"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r)
    names = [n for n, _ in events]
    assert names[0] == "llm:thinking" and names[-2:] == ["llm:response", "run:complete"]
    chunks = [d["content"] for n, d in events if n == "llm:chunk"]
    assert len(chunks) >= 2 and "".join(chunks) == "Echo: one two three four five"
    for name, data in events:
        assert data["name"] == name and data["sessionId"] == "st"
    assert events[-1][1]["finishReason"] == "stop"


def test_async_message_runs_in_background(client, server):
    r = client.post("/api/message", json={"content": "later", "sessionId": "bg"})
    assert r.status_code == 202 and r.json() == {"accepted": True, "sessionId": "bg"}
    import time
    deadline = time.time() + 10
    while time.time() < deadline:
        history = client.get("/api/sessions/bg/history").json()
        if len(history["history"]) == 2 and not history["isBusy"]:
            break
        time.sleep(0.05)
    assert history["history"][-1]["content"] == "Echo: later"


def test_sessions_crud_fork_patch_load_delete(client):
    created = client.post("/api/sessions", json={"sessionId": "crud"})
    assert created.status_code == 201 and created.json()["session"]["id"] == "crud"
    assert client.post("/api/sessions", json={"sessionId": "crud"}).status_code == 201  # idempotent
    generated = client.post("/api/sessions").json()["session"]["id"]
    assert len(generated) == 36

    client.post("/api/message-sync", json={"content": "first", "sessionId": "crud"})
    ids = {s["id"] for s in client.get("/api/sessions").json()["sessions"]}
    assert {"crud", generated} <= ids

    patched = client.patch("/api/sessions/crud", json={"title": "Renamed"})
    assert patched.status_code == 200 and patched.json()["session"]["title"] == "Renamed"

    fork = client.post("/api/sessions/crud/fork")
    assert fork.status_code == 201
    child = fork.json()["session"]
    assert child["parentSessionId"] == "crud" and child["title"] == "Fork: Renamed"
    assert len(client.get(f"/api/sessions/{child['id']}/history").json()["history"]) == 2

    load = client.get("/api/sessions/crud/load").json()
    assert load["session"]["isBusy"] is False and load["usageSummary"]["tokenUsage"]["totalTokens"] > 0

    assert client.post("/api/reset", json={"sessionId": "crud"}).json() == {"status": "reset initiated", "sessionId": "crud"}
    assert client.get("/api/sessions/crud/history").json()["history"] == []

    assert client.delete("/api/sessions/crud").json() == {"status": "deleted", "sessionId": "crud"}
    assert client.get("/api/sessions/crud").status_code == 404
    gone = client.delete("/api/sessions/crud")   # issue 18.8: was 200 (an existence oracle)
    assert gone.status_code == 404 and gone.json()["code"] == "session_not_found"
    assert client.get(f"/api/sessions/{child['id']}/history").status_code == 200  # the fork stays


def test_cancel_and_events_when_idle(client):
    client.post("/api/sessions", json={"sessionId": "idle"})
    r = client.post("/api/sessions/idle/cancel")
    assert r.json() == {"cancelled": False, "sessionId": "idle", "queueCleared": False, "clearedCount": 0}
    r = client.get("/api/sessions/idle/events")
    assert r.status_code == 409 and r.json()["code"] == "session_not_busy"


@pytest.mark.parametrize("method, path, body, status, code", [
    ("POST", "/api/message-sync", b"{not json", 400, "invalid_json"),
    ("POST", "/api/message-sync", {"sessionId": "x"}, 400, "validation_failed"),
    ("POST", "/api/message-sync", {"content": 5}, 400, "validation_failed"),
    ("POST", "/api/message-sync", {"content": "  "}, 400, "validation_failed"),
    ("POST", "/api/message-sync", {"content": "x", "sessionId": "bad id/with slash"}, 400, "validation_failed"),
    ("POST", "/api/message-sync", {"content": [{"type": "video"}]}, 400, "validation_failed"),
    ("POST", "/api/message-sync", {"content": "x", "agentId": "nobody"}, 404, "agent_not_found"),
    ("POST", "/api/message-stream", b"[1,", 400, "invalid_json"),
    ("POST", "/api/reset", {"sessionId": "ghost"}, 404, "session_not_found"),
    ("GET", "/api/sessions/ghost", None, 404, "session_not_found"),
    ("GET", "/api/sessions/ghost/history", None, 404, "session_not_found"),
    ("GET", "/api/sessions/ghost/events", None, 404, "session_not_found"),
    ("GET", "/api/sessions/ghost/load", None, 404, "session_not_found"),
    ("POST", "/api/sessions/ghost/fork", None, 404, "session_not_found"),
    ("POST", "/api/sessions/ghost/cancel", None, 404, "session_not_found"),
    ("PATCH", "/api/sessions/ghost", {"title": "x"}, 404, "session_not_found"),
    ("PATCH", "/api/sessions/any", {"title": ""}, 400, "validation_failed"),
    ("PATCH", "/api/sessions/any", {"title": "x" * 121}, 400, "validation_failed"),
    ("POST", "/api/llm/switch", {}, 400, "validation_failed"),
    ("POST", "/api/llm/switch", {"model": "x", "temperature": 5}, 400, "validation_failed"),
    ("POST", "/api/llm/switch", {"provider": "skynet"}, 400, "validation_failed"),
    ("GET", "/api/nothing-here", None, 404, "not_found"),
])
def test_errors_use_one_envelope(client, method, path, body, status, code):
    kwargs = {"content": body} if isinstance(body, bytes) else ({"json": body} if body is not None else {})
    if isinstance(body, bytes):
        kwargs["headers"] = {"content-type": "application/json"}
    r = client.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    payload = r.json()
    assert payload["code"] == code and isinstance(payload["message"], str) and payload["message"]


def test_validation_errors_name_the_field(client):
    r = client.post("/api/message-sync", json={"sessionId": "x"})
    assert "content" in r.json()["message"]
    r = client.patch("/api/sessions/any", json={"title": "x" * 121})
    assert r.json()["message"].startswith("title:")


def test_body_too_large_is_413(tmp_path, monkeypatch):
    # The limit is read from the process environment at app creation.
    monkeypatch.setenv("SWITCHYARD_MAX_BODY_BYTES", "2048")
    with serve_agents(echo_agent(tmp_path)) as live, live.client() as c:
        r = c.post("/api/message-sync", json={"content": "x" * 5000})
        assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
        assert c.post("/api/message-sync", json={"content": "small"}).status_code == 200


def test_message_content_limit_is_400_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SWITCHYARD_MAX_MESSAGE_CHARS", "10")
    with serve_agents(echo_agent(tmp_path)) as live, live.client() as c:
        r = c.post("/api/message-sync", json={"content": "x" * 11})
        assert r.status_code == 400 and r.json()["code"] == "content_too_long"
        assert "content" in r.json()["message"] and "SWITCHYARD_MAX_MESSAGE_CHARS" in r.json()["message"]


def test_llm_current_switch_catalog_never_show_keys(client):
    current = client.get("/api/llm/current").json()
    assert current["config"]["provider"] == "echo" and current["config"]["hasApiKey"] is False
    assert "apiKey" not in json.dumps(current)

    r = client.post("/api/llm/switch", json={"provider": "openai-compatible", "model": "m1",
                                            "baseURL": "http://127.0.0.1:9/v1", "apiKey": "sk-secret-abcdefghijklmnop"})
    assert r.status_code == 200, r.text
    config = r.json()["config"]
    assert config["provider"] == "openai-compatible" and config["model"] == "m1" and config["hasApiKey"] is True
    assert "sk-secret" not in r.text
    assert "sk-secret" not in client.get("/api/llm/current").text

    client.post("/api/sessions", json={"sessionId": "per"})
    r = client.post("/api/llm/switch", json={"provider": "echo", "model": "echo", "sessionId": "per"})
    assert r.status_code == 200 and r.json()["sessionId"] == "per"
    assert client.get("/api/llm/current", params={"sessionId": "per"}).json()["config"]["provider"] == "echo"
    assert client.get("/api/llm/current").json()["config"]["provider"] == "openai-compatible"
    # The session uses its own model even though the global one now points at a dead port.
    assert client.post("/api/message-sync", json={"content": "still echo", "sessionId": "per"}).json()["response"] == "Echo: still echo"

    catalog = client.get("/api/llm/catalog").json()
    assert "openai" in catalog["providers"] and "anthropic" in catalog["providers"]
    assert "sk-" not in json.dumps(catalog)
    assert {"google", "vertex", "bedrock", "cohere", "minimax", "glm", "dexto-nova"} <= set(catalog["providers"])

    gemini = client.get("/api/llm/capabilities", params={"provider": "google", "model": "gemini-2.5-pro"}).json()
    assert gemini["supportedFileTypes"] == ["image", "pdf"]
    assert gemini["reasoning"]["capable"] is True and gemini["reasoning"]["paradigm"] == "budget"
    assert gemini["reasoning"]["supportsBudgetTokens"] is True and "off" in gemini["reasoning"]["supportedVariants"]
    o4 = client.get("/api/llm/capabilities", params={"provider": "openai", "model": "o4-mini"}).json()
    assert o4["reasoning"]["paradigm"] == "effort" and o4["reasoning"]["supportsBudgetTokens"] is False
    glm = client.get("/api/llm/capabilities", params={"provider": "glm"}).json()
    assert glm["model"] == "glm-4.5" and glm["reasoning"] == {
        "capable": False, "paradigm": "none", "variants": [], "supportedVariants": [], "supportsBudgetTokens": False}
    bad = client.get("/api/llm/capabilities", params={"provider": "gemini"})
    assert bad.status_code == 400 and bad.json()["message"].startswith("provider: Input should be 'openai'")
