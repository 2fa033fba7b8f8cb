"""Search and context over HTTP: ranked, highlighted full-text search with paging and filters,
limited to what the caller owns; clear-context (a fresh model context, the history kept);
generate-title; the system-prompt contributors of the agent and of one session."""

from __future__ import annotations

from typing import Any

from switchyard.errors import LLMError
from switchyard.runtime.context import TITLE_INSTRUCTIONS
from tests.e2e.test_memory_api import recording_model, serve
from tests.support.security import ROOT, bearer, create_key, production


def _send(c: Any, headers: dict[str, str], content: str, session_id: str | None = None) -> str:
    body = {"content": content, **({"sessionId": session_id} if session_id else {})}
    response = c.post("/api/message-sync", headers=headers, json=body)
    assert response.status_code == 200, response.text
    return response.json()["sessionId"]


def test_search_ranks_highlights_pages_and_filters():
    model = recording_model(lambda messages, tools, info: f"about {messages[-1]['content']}")
    with serve(model=model) as server, server.client() as c:
        trip = _send(c, {}, "Planning a trip to Lisbon in <May>")
        _send(c, {}, "Book the Lisbon hotel near the river; Lisbon trams are great", trip)
        work = _send(c, {}, "deploying the payments service")
        _send(c, {}, "unrelated chatter")

        found = c.get("/api/search/messages", params={"q": "lisbon"}).json()
        assert found["query"] == "lisbon" and found["total"] == 4 and found["hasMore"] is False
        assert found["options"] == {"limit": 20, "offset": 0}
        best = found["results"][0]
        assert best["sessionId"] == trip and best["message"]["role"] == "user"   # two hits in one message
        assert best["message"]["content"].startswith("Book the Lisbon hotel")
        assert best["matchedText"] == "Lisbon" and "Lisbon trams" in best["context"]
        assert best["messageIndex"] == 2 and "<mark>Lisbon</mark>" in best["snippet"]
        escaped = next(r for r in found["results"] if r["message"]["content"].startswith("Planning"))
        assert escaped["messageIndex"] == 0
        assert "&lt;May&gt;" in escaped["snippet"] and "<May>" not in escaped["snippet"]  # no markup injection
        assert "<May>" in escaped["context"]

        stemmed = c.get("/api/search/messages", params={"q": "deploy payment"}).json()
        assert [r["sessionId"] for r in stemmed["results"]] == [work, work]         # user's and the answer
        only_users = c.get("/api/search/messages", params={"q": "lisbon", "role": "assistant"}).json()
        assert only_users["total"] == 2 and {r["message"]["role"] for r in only_users["results"]} == {"assistant"}
        page = c.get("/api/search/messages", params={"q": "lisbon", "limit": 3, "offset": 1}).json()
        assert len(page["results"]) == 3 and page["hasMore"] is False and page["total"] == 4
        first_page = c.get("/api/search/messages", params={"q": "lisbon", "limit": 1}).json()
        assert first_page["hasMore"] is True and first_page["results"][0]["message"] == best["message"]
        in_work = c.get("/api/search/messages", params={"q": "lisbon", "sessionId": work}).json()
        assert in_work["total"] == 0
        # FTS operators and punctuation are just words here: never a syntax error.
        odd = c.get("/api/search/messages", params={"q": 'lisbon" OR NEAR(* -'})
        assert odd.status_code == 200

        sessions = c.get("/api/search/sessions", params={"q": "lisbon"}).json()
        assert sessions["total"] == 1 and sessions["hasMore"] is False
        hit = sessions["results"][0]
        assert hit["sessionId"] == trip and hit["matchCount"] == 4
        assert hit["firstMatch"]["messageIndex"] == 0
        assert hit["metadata"]["messageCount"] == 4 and hit["metadata"]["createdAt"] > 0

        for params, path in (({}, "q"), ({"q": ""}, "q"), ({"q": "x", "limit": 101}, "limit"),
                             ({"q": "x", "role": "robot"}, "role")):
            response = c.get("/api/search/messages", params=params)
            assert response.status_code == 400 and response.json()["details"]["issues"][0]["path"] == path
        no_words = c.get("/api/search/messages", params={"q": "!!! ???"})
        assert no_words.status_code == 400 and no_words.json()["code"] == "search_query_invalid"


def test_search_finds_only_what_the_caller_owns(monkeypatch):
    production(monkeypatch)
    with serve() as server, server.client() as c:
        alice = bearer(create_key(c, "alice", ["chat"]))
        bob = bearer(create_key(c, "bob", ["chat"]))
        reader = bearer(create_key(c, "reader", ["read"]))
        secret = _send(c, alice, "the launch codeword is zeppelin")
        _send(c, bob, "my zeppelin model kit")
        for who, expected in ((alice, 1), (bob, 1), (ROOT, 2), (reader, 0)):
            found = c.get("/api/search/messages", headers=who, params={"q": "zeppelin"}).json()
            assert found["total"] == expected
        bob_view = c.get("/api/search/messages", headers=bob, params={"q": "codeword zeppelin"})
        assert bob_view.json()["total"] == 0 and "launch" not in bob_view.text
        by_session = c.get("/api/search/messages", headers=bob, params={"q": "zeppelin", "sessionId": secret})
        assert by_session.status_code == 200 and by_session.json()["results"] == []
        assert c.get("/api/search/sessions", headers=bob, params={"q": "codeword"}).json()["results"] == []
        assert c.get("/api/search/sessions", headers=ROOT, params={"q": "codeword"}).json()["total"] == 1


def test_clear_context_keeps_the_history_and_starts_a_fresh_context(monkeypatch):
    production(monkeypatch)
    model = recording_model(lambda messages, tools, info: f"reply {len(messages)}")
    with serve(model=model) as server, server.client() as c:
        alice = bearer(create_key(c, "alice", ["chat"]))
        bob = bearer(create_key(c, "bob", ["chat"]))
        sid = _send(c, alice, "remember the number 17")
        _send(c, alice, "and the colour teal", sid)
        assert len(model.steps[-1].messages) == 3
        assert c.post(f"/api/sessions/{sid}/clear-context", headers=bob).status_code == 404
        cleared = c.post(f"/api/sessions/{sid}/clear-context", headers=alice)
        assert cleared.status_code == 200 and cleared.json() == {"status": "context cleared", "sessionId": sid}

        _send(c, alice, "what did I say?", sid)
        assert [m["content"] for m in model.steps[-1].messages] == ["what did I say?"]   # a fresh context
        _send(c, alice, "and now?", sid)
        assert [m["content"] for m in model.steps[-1].messages] == ["what did I say?", "reply 1", "and now?"]
        history = c.get(f"/api/sessions/{sid}/history", headers=alice).json()["history"]
        assert [m["content"] for m in history][:2] == ["remember the number 17", "reply 1"]
        assert len(history) == 8
        assert c.get("/api/search/messages", headers=alice, params={"q": "teal"}).json()["total"] == 1
        hit = c.get("/api/search/messages", headers=alice, params={"q": "now"}).json()["results"][0]
        assert hit["messageIndex"] == 6                                   # its place in the history

        # A fork keeps where the context starts; a reset starts everything over.
        fork = c.post(f"/api/sessions/{sid}/fork", headers=alice).json()["session"]["id"]
        _send(c, alice, "in the fork", fork)
        assert [m["content"] for m in model.steps[-1].messages][0] == "what did I say?"
        c.post("/api/reset", headers=alice, json={"sessionId": sid})
        _send(c, alice, "after reset", sid)
        assert [m["content"] for m in model.steps[-1].messages] == ["after reset"]
        assert c.post("/api/sessions/missing/clear-context", headers=alice).status_code == 404


def test_generate_title_names_the_session(monkeypatch):
    production(monkeypatch)
    failing = {"on": False}

    def reply(messages: list[dict[str, Any]], tools: list[Any], info: Any) -> str:
        if info.system == TITLE_INSTRUCTIONS:
            if failing["on"]:
                raise LLMError("the provider is down", provider="function")
            assert "user: I want to plan a week in Lisbon" in messages[0]["content"]
            return '"Planning a Week in Lisbon."\nextra line'
        return "sure"

    model = recording_model(reply)
    with serve(model=model) as server, server.client() as c:
        alice = bearer(create_key(c, "alice", ["chat"]))
        bob = bearer(create_key(c, "bob", ["chat"]))
        sid = _send(c, alice, "I want to plan a week in Lisbon\nwith my family")
        assert c.post(f"/api/sessions/{sid}/generate-title", headers=bob).status_code == 404
        named = c.post(f"/api/sessions/{sid}/generate-title", headers=alice)
        assert named.status_code == 200
        assert named.json() == {"title": "Planning a Week in Lisbon", "sessionId": sid}
        assert c.get(f"/api/sessions/{sid}", headers=alice).json()["session"]["title"] == "Planning a Week in Lisbon"
        failing["on"] = True       # the model fails: the first line of the first message
        again = c.post(f"/api/sessions/{sid}/generate-title", headers=alice).json()
        assert again["title"] == "I want to plan a week in Lisbon"
        empty = c.post("/api/sessions", headers=alice, json={}).json()["session"]["id"]
        assert c.post(f"/api/sessions/{empty}/generate-title", headers=alice).json() == {
            "title": None, "sessionId": empty}


def test_system_prompt_contributors(monkeypatch):
    production(monkeypatch)
    model = recording_model("ok")
    config = {"systemPrompt": {"contributors": [
        {"id": "primary", "type": "static", "priority": 0, "content": "You are the file's agent."},
        {"id": "off", "type": "static", "priority": 5, "content": "never shown", "enabled": False}]}}
    with serve(config, model) as server, server.client() as c:
        alice = bearer(create_key(c, "alice", ["chat"]))
        bob = bearer(create_key(c, "bob", ["chat"]))
        assert c.get("/api/system-prompt/contributors", headers=alice).json() == {
            "contributors": [{"id": "primary", "priority": 0}]}
        body = {"id": "house rules!", "content": "Answer in French.", "priority": 20.7}
        assert c.post("/api/system-prompt/contributors", headers=alice, json=body).status_code == 403
        added = c.post("/api/system-prompt/contributors", headers=ROOT, json=body).json()
        assert added == {"id": "house-rules", "enabled": True, "priority": 20, "replaced": False,
                         "contentLength": 17, "truncated": False}
        long = c.post("/api/system-prompt/contributors", headers=ROOT,
                      json={"id": "long", "content": "x" * 130_000, "priority": 90}).json()
        assert long["truncated"] is True and long["contentLength"] == 120_000
        assert c.post("/api/system-prompt/contributors", headers=ROOT, json={"id": "long", "content": ""}).json() == {
            "id": "long", "enabled": False, "removed": True}

        sid = _send(c, alice, "bonjour")
        own = c.post(f"/api/sessions/{sid}/system-prompt/contributors", headers=alice,
                     json={"id": "tone", "content": "Be brief.", "priority": 10}).json()
        assert own["enabled"] is True and own["priority"] == 10
        assert c.post(f"/api/sessions/{sid}/system-prompt/contributors", headers=bob,
                      json={"id": "tone", "content": "Be rude."}).status_code == 404
        assert c.get(f"/api/sessions/{sid}/system-prompt/contributors", headers=alice).json()["contributors"] == [
            {"id": "primary", "priority": 0}, {"id": "tone", "priority": 10}, {"id": "house-rules", "priority": 20}]
        _send(c, alice, "encore", sid)
        assert model.steps[-1].info.system == "You are the file's agent.\n\nBe brief.\n\nAnswer in French."
        _send(c, bob, "hello")
        assert model.steps[-1].info.system == "You are the file's agent.\n\nAnswer in French."

        removed = c.post(f"/api/sessions/{sid}/system-prompt/contributors", headers=alice,
                         json={"id": "tone", "enabled": False}).json()
        assert removed == {"id": "tone", "enabled": False, "removed": True}
        for bad, path in (({"id": "tone"}, "content"), ({"id": "tone", "content": "   "}, "content"),
                          ({"id": "tone", "content": ""}, "content"), ({"id": "%%%", "content": "x"}, "id"),
                          ({"id": "tone", "content": "x", "priority": -1}, "priority"), ({"content": "x"}, "id"),
                          ({"id": "tone", "content": "x", "enabled": 0}, "enabled"),
                          ({"id": "tone", "content": "x", "colour": "red"}, "colour")):
            response = c.post(f"/api/sessions/{sid}/system-prompt/contributors", headers=alice, json=bad)
            assert response.status_code == 400, (bad, response.text)
            assert response.json()["details"]["issues"][0]["path"] == path, (bad, response.json())
        assert c.post("/api/system-prompt/contributors", headers=ROOT, json={"id": "x", "content": " "}
                      ).json()["details"]["issues"][0]["path"] == "content"


def test_openapi_tells_the_truth_about_these_routes():
    """Each operation documents its success model and its error statuses (the envelope, never
    FastAPI's 422), and real answers validate against the documented models."""
    from switchyard.server.api import context as ctx
    from switchyard.server.api import memory as mem
    from switchyard.server.api import search as srch
    from switchyard.server.schemas import ErrorEnvelope

    documented = {
        ("post", "/api/memory"): ("201", "MemoryResult", ("400", "404")),
        ("get", "/api/memory"): ("200", "MemoryList", ("400", "404")),
        ("get", "/api/memory/{id}"): ("200", "MemoryResult", ("400", "404")),
        ("put", "/api/memory/{id}"): ("200", "MemoryResult", ("400", "404")),
        ("delete", "/api/memory/{id}"): ("200", "MemoryDeleted", ("400", "404")),
        ("get", "/api/search/messages"): ("200", "MessageResults", ("400", "404")),
        ("get", "/api/search/sessions"): ("200", "SessionResults", ("400", "404")),
        ("post", "/api/sessions/{session_id}/clear-context"): ("200", "ContextCleared", ("400", "404", "409")),
        ("post", "/api/sessions/{session_id}/generate-title"): ("200", "TitleResult", ("400", "404")),
        ("get", "/api/sessions/{session_id}/system-prompt/contributors"): ("200", "ContributorList", ("404",)),
        ("post", "/api/sessions/{session_id}/system-prompt/contributors"): ("200", "ContributorChange", ("400", "404")),
        ("get", "/api/system-prompt/contributors"): ("200", "ContributorList", ("404",)),
        ("post", "/api/system-prompt/contributors"): ("200", "ContributorChange", ("400", "404")),
    }
    with serve() as server, server.client() as c:
        spec = c.get("/openapi.json").json()
        for (method, path), (success, model, errors) in documented.items():
            responses = spec["paths"][path][method]["responses"]
            assert responses[success]["content"]["application/json"]["schema"]["$ref"].endswith("/" + model)
            for status in errors:
                assert responses[status]["content"]["application/json"]["schema"]["$ref"].endswith(
                    "/ErrorEnvelope"), (method, path, status)
            assert "422" not in responses

        def check(model: Any, response: Any, status: int = 200) -> dict[str, Any]:
            assert response.status_code == status, response.text
            model.model_validate(response.json())
            return response.json()

        memory = check(mem.MemoryResult, c.post("/api/memory", json={"content": "x", "tags": ["t"]}), 201)
        mid = memory["memory"]["id"]
        check(mem.MemoryList, c.get("/api/memory"))
        check(mem.MemoryResult, c.get(f"/api/memory/{mid}"))
        check(mem.MemoryResult, c.put(f"/api/memory/{mid}", json={"content": "y"}))
        check(mem.MemoryDeleted, c.delete(f"/api/memory/{mid}"))
        sid = _send(c, {}, "searchable words")
        check(srch.MessageResults, c.get("/api/search/messages", params={"q": "searchable"}))
        check(srch.SessionResults, c.get("/api/search/sessions", params={"q": "searchable"}))
        check(ctx.ContextCleared, c.post(f"/api/sessions/{sid}/clear-context"))
        check(ctx.TitleResult, c.post(f"/api/sessions/{sid}/generate-title"))
        check(ctx.ContributorList, c.get(f"/api/sessions/{sid}/system-prompt/contributors"))
        check(ctx.ContributorChange, c.post(f"/api/sessions/{sid}/system-prompt/contributors",
                                            json={"id": "a", "content": "b"}))
        check(ctx.ContributorList, c.get("/api/system-prompt/contributors"))
        check(ctx.ContributorChange, c.post("/api/system-prompt/contributors", json={"id": "a", "enabled": False}))
        for response in (c.get("/api/memory/nope"), c.post("/api/sessions/nope/clear-context"),
                         c.get("/api/search/messages")):
            ErrorEnvelope.model_validate(response.json())


def test_clear_context_waits_for_no_turn(monkeypatch):
    """While a turn runs it holds the context it started with: clear-context is refused (409)
    until the turn ends, then accepted."""
    import asyncio
    import threading

    release = threading.Event()

    async def slow(messages: list[dict[str, Any]], tools: list[Any], info: Any) -> str:
        while not release.is_set():
            await asyncio.sleep(0.01)
        return "done"

    with serve(model=recording_model(slow)) as server, server.client() as c:
        started = c.post("/api/message", json={"content": "take your time", "sessionId": "busy"})
        assert started.status_code == 202
        refused = c.post("/api/sessions/busy/clear-context")
        assert refused.status_code == 409 and refused.json()["code"] == "session_busy"
        release.set()
        with c.stream("GET", "/api/sessions/busy/events") as events:   # to the end of the turn
            for _ in events.iter_lines():
                pass
        assert c.post("/api/sessions/busy/clear-context").status_code == 200


def test_memories_and_search_on_postgres(monkeypatch):
    """The same routes over an agent whose database is Postgres (tsvector + GIN search)."""
    import os
    import uuid

    import pytest

    url = os.environ.get("SWITCHYARD_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("SWITCHYARD_TEST_POSTGRES_URL is not set (Postgres not available)")
    production(monkeypatch)
    agent_id = f"pg-mem-{uuid.uuid4().hex[:8]}"     # its own rows in a shared database
    config = {"agentId": agent_id, "storage": {"database": {"type": "postgres", "url": url}},
              "memories": {"enabled": True}}
    model = recording_model(lambda messages, tools, info: f"noted: {messages[-1]['content']}")
    with serve(config, model) as server, server.client() as c:
        alice = bearer(create_key(c, f"alice-{agent_id}", ["chat"]))
        bob = bearer(create_key(c, f"bob-{agent_id}", ["chat"]))
        memory = c.post("/api/memory", headers=alice, json={"content": "alice flies to Oslo", "tags": ["travel"]})
        assert memory.status_code == 201
        assert c.get(f"/api/memory/{memory.json()['memory']['id']}", headers=bob).status_code == 404
        sid = _send(c, alice, "booking the flights to Oslo for the conference")
        _send(c, bob, "bob never flew anywhere")
        assert "alice flies to Oslo" in model.steps[0].info.system
        found = c.get("/api/search/messages", headers=alice, params={"q": "flight oslo"}).json()
        assert found["total"] == 2 and {r["sessionId"] for r in found["results"]} == {sid}
        assert "<mark>" in found["results"][0]["snippet"]
        assert c.get("/api/search/messages", headers=bob, params={"q": "oslo"}).json()["total"] == 0
        assert c.get("/api/search/messages", headers=bob, params={"q": "flew"}).json()["total"] == 2   # and the answer
        sessions = c.get("/api/search/sessions", headers=ROOT, params={"q": "oslo"}).json()
        assert [s["sessionId"] for s in sessions["results"]] == [sid] and sessions["results"][0]["matchCount"] == 2
        c.post(f"/api/sessions/{sid}/clear-context", headers=alice)
        _send(c, alice, "fresh start", sid)
        assert [m["content"] for m in model.steps[-1].messages] == ["fresh start"]
