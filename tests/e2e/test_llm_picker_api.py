"""The model picker over HTTP: featured models, recents (recorded by switches too, the last 10,
newest first), favourites (toggled, replaced), custom and local models, bad input, and each
API key's own state."""

from __future__ import annotations

from typing import Any

from tests.e2e.test_llm_extras_api import serve
from tests.support.security import ROOT, bearer, create_key, production


def ref(provider: str, model: str, **extra: Any) -> dict[str, Any]:
    return {"provider": provider, "model": model, **extra}


def keys(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["provider"], e["model"]) for e in entries]


def test_featured_recents_favorites_and_custom(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "tiny-chat.gguf").write_bytes(b"GGUF" + bytes(12))
    monkeypatch.setenv("SWITCHYARD_MODELS_DIR", str(folder))
    with serve() as server, server.client() as c:
        state = c.get("/api/llm/model-picker-state").json()
        assert state["recents"] == state["favorites"] == state["custom"] == []
        # Featured: each provider's default model of the catalog, in its order, at most 8.
        catalog = c.get("/api/llm/catalog").json()["providers"]
        expected = [(pid, p["models"][0]["name"]) for pid, p in catalog.items()
                    if p["models"] and pid not in ("echo", "local")][:8]
        assert len(expected) == 8 and keys(state["featured"]) == expected
        assert all(e["source"] == "catalog" for e in state["featured"])

        assert c.post("/api/llm/model-picker-state/recents", json=ref("openai", "gpt-4o")).json() == {"ok": True}
        recent = c.get("/api/llm/model-picker-state").json()["recents"][0]
        assert recent["provider"] == "openai" and recent["model"] == "gpt-4o" and recent["source"] == "catalog"
        assert recent["displayName"] and "image" in recent["supportedFileTypes"]

        for i in range(11):
            c.post("/api/llm/model-picker-state/recents", json=ref("openai-compatible", f"m{i}",
                                                                   baseURL="http://127.0.0.1:9/v1"))
        c.post("/api/llm/model-picker-state/recents", json=ref("openai-compatible", "m3", baseURL="http://127.0.0.1:9/v1"))
        recents = c.get("/api/llm/model-picker-state").json()["recents"]
        assert [e["model"] for e in recents] == ["m3", "m10", "m9", "m8", "m7", "m6", "m5", "m4", "m2", "m1"]
        assert recents[0]["source"] == "custom" and recents[0]["baseURL"] == "http://127.0.0.1:9/v1"

        # A switch is recorded as the caller's most recent model.
        assert c.post("/api/llm/switch", json={"provider": "echo", "model": "echo"}).status_code == 200
        assert keys(c.get("/api/llm/model-picker-state").json()["recents"])[0] == ("echo", "echo")

        toggle = "/api/llm/model-picker-state/favorites/toggle"
        assert c.post(toggle, json=ref("anthropic", "claude-sonnet-4-5")).json() == {"ok": True, "isFavorite": True}
        assert c.post(toggle, json=ref("local", "tiny-chat")).json()["isFavorite"] is True
        favorites = c.get("/api/llm/model-picker-state").json()["favorites"]
        assert keys(favorites) == [("local", "tiny-chat"), ("anthropic", "claude-sonnet-4-5")]
        assert favorites[0]["source"] == "local-installed"
        assert c.post(toggle, json=ref("anthropic", "claude-sonnet-4-5")).json()["isFavorite"] is False
        assert keys(c.get("/api/llm/model-picker-state").json()["favorites"]) == [("local", "tiny-chat")]

        replaced = c.put("/api/llm/model-picker-state/favorites", json={"favorites": [
            ref("openai", "gpt-4o"), ref("google", "gemini-2.5-flash"), ref("openai", "gpt-4o")]})
        assert replaced.json() == {"ok": True, "count": 2}
        assert keys(c.get("/api/llm/model-picker-state").json()["favorites"]) == [
            ("openai", "gpt-4o"), ("google", "gemini-2.5-flash")]

        c.post("/api/llm/custom-models", json={"name": "house", "baseURL": "http://127.0.0.1:9/v1",
                                               "displayName": "House model"})
        custom = c.get("/api/llm/model-picker-state").json()["custom"]
        assert custom == [{"provider": "openai-compatible", "model": "house", "baseURL": "http://127.0.0.1:9/v1",
                           "displayName": "House model", "supportedFileTypes": custom[0]["supportedFileTypes"],
                           "source": "custom"}]

        for path, method, body in (
                ("/api/llm/model-picker-state/recents", "POST", ref("nope", "m")),
                ("/api/llm/model-picker-state/recents", "POST", ref("openai", "")),
                ("/api/llm/model-picker-state/recents", "POST", {**ref("openai", "m"), "colour": 1}),
                (toggle, "POST", ref("openai", "m", baseURL="ftp://x")),
                ("/api/llm/model-picker-state/favorites", "PUT", {"favorites": [ref("openai", "m")] * 101}),
                ("/api/llm/model-picker-state/favorites", "PUT", {})):
            bad = c.request(method, path, json=body)
            assert bad.status_code == 400, (path, body, bad.text)


def test_each_key_has_its_own_picker_state(monkeypatch):
    production(monkeypatch)
    with serve() as server, server.client() as c:
        alice = bearer(create_key(c, "alice", ["chat"]))
        bob = bearer(create_key(c, "bob", ["chat"]))
        reader = bearer(create_key(c, "reader", ["read"]))
        c.post("/api/llm/model-picker-state/favorites/toggle", headers=alice, json=ref("openai", "gpt-4o"))
        c.post("/api/llm/model-picker-state/recents", headers=alice, json=ref("openai", "gpt-4o-mini"))
        assert keys(c.get("/api/llm/model-picker-state", headers=alice).json()["favorites"]) == [("openai", "gpt-4o")]
        bobs = c.get("/api/llm/model-picker-state", headers=bob).json()
        assert bobs["favorites"] == [] and bobs["recents"] == []
        assert c.get("/api/llm/model-picker-state", headers=reader).status_code == 200
        assert c.post("/api/llm/model-picker-state/recents", headers=reader,
                      json=ref("openai", "gpt-4o")).status_code == 403
        assert c.get("/api/llm/model-picker-state").status_code == 401
        assert c.get("/api/llm/model-picker-state", headers=ROOT).json()["favorites"] == []
