"""The model extras over HTTP: custom models (saved in the server database, switched to by
name), provider keys stored encrypted and used by a real turn, local GGUF models, a local
Ollama's list, `reasoning` on a switch, `?pretty`, and who may do what. A stored key appears
in no response, no log line and no byte of the database file."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.live_server import LiveServer
from tests.support.net import free_port
from tests.support.security import ROOT, bearer, create_key, production

OPENAI_KEY = "sk-test-STORED-openai-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-STORED-anthropic-abcdef0123456789"
CUSTOM_KEY = "custom-model-SECRET-key-77777777"


def make_server(config: dict[str, Any] | None = None) -> LiveServer:
    def factory() -> Any:
        from switchyard.config import parse_agent
        from switchyard.runtime.agent import Agent
        from switchyard.runtime.host import AgentHost
        from switchyard.server.app import create_app
        raw = {"agentId": "extras", "llm": {"provider": "echo", "model": "echo"},
               "storage": {"database": {"type": "in-memory"}}, **(config or {})}
        return create_app(AgentHost([Agent(parse_agent(raw, env={}))]), shutdown_grace=3)
    return LiveServer(factory)


@contextlib.contextmanager
def serve(config: dict[str, Any] | None = None) -> Iterator[LiveServer]:
    server = make_server(config).start()
    try:
        yield server
    finally:
        server.stop()


class Captured(logging.Handler):
    """Every log record of the process while a test runs, formatted (with arguments)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    handler = Captured()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


def home() -> Path:
    return Path(os.environ["SWITCHYARD_HOME"])


def assert_nowhere(secret: str, responses: list[Any], log_lines: list[str]) -> None:
    for response in responses:
        assert secret not in response.text, response.request.url
        assert all(secret not in v for v in response.headers.values())
    assert not [line for line in log_lines if secret in line]
    for path in home().rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


# --- custom models ---------------------------------------------------------------------------

def test_custom_models_crud_persist_and_never_show_their_key(log_lines):
    seen = []
    with serve() as server, server.client() as c:
        assert c.get("/api/llm/custom-models").json() == {"models": []}
        saved = c.post("/api/llm/custom-models", json={
            "name": "llama3:8b", "baseURL": "http://127.0.0.1:9/v1", "displayName": "Llama 3",
            "maxInputTokens": 8000, "apiKey": CUSTOM_KEY, "reasoning": {"variant": "low"}})
        seen.append(saved)
        assert saved.status_code == 200, saved.text
        model = saved.json()["model"]
        assert saved.json()["ok"] is True
        assert model["name"] == "llama3:8b" and model["provider"] == "openai-compatible"
        assert model["hasApiKey"] is True and "apiKey" not in model
        assert model["reasoning"] == {"variant": "low"} and model["maxInputTokens"] == 8000
        second = c.post("/api/llm/custom-models", json={"name": "team/model", "provider": "ollama"})
        assert second.status_code == 200 and second.json()["model"]["hasApiKey"] is False

        # Saving a name again replaces that model (its creation time stays).
        again = c.post("/api/llm/custom-models", json={"name": "llama3:8b", "baseURL": "http://127.0.0.1:9/v1",
                                                       "displayName": "Llama 3 (8B)"})
        assert again.json()["model"]["displayName"] == "Llama 3 (8B)"
        assert again.json()["model"]["createdAt"] == model["createdAt"]
        assert again.json()["model"]["hasApiKey"] is False
        listed = c.get("/api/llm/custom-models")
        seen.append(listed)
        assert [m["name"] for m in listed.json()["models"]] == ["llama3:8b", "team/model"]
        picker = c.get("/api/llm/model-picker-state").json()["custom"]      # the picker offers them
        assert [(e["provider"], e["model"], e["source"]) for e in picker] == [
            ("openai-compatible", "llama3:8b", "custom"), ("ollama", "team/model", "custom")]
        assert picker[0]["displayName"] == "Llama 3 (8B)" and picker[0]["baseURL"] == "http://127.0.0.1:9/v1"

        for body, field in (({}, "name"), ({"name": "x", "baseURL": "ftp://h"}, "baseURL"),
                            ({"name": "x", "provider": "nope"}, "provider"),
                            ({"name": "x", "provider": "ollama", "colour": "red"}, "colour"),
                            ({"name": " x", "provider": "ollama"}, "name"),
                            ({"name": "x", "provider": "ollama", "maxInputTokens": 0}, "maxInputTokens")):
            bad = c.post("/api/llm/custom-models", json=body)
            assert bad.status_code == 400, (body, bad.text)
            assert bad.json()["code"] and field in bad.text, bad.text

        # Saved without a baseURL, an openai-compatible model cannot be switched to: the switch says why.
        c.post("/api/llm/custom-models", json={"name": "no-url"})
        refused = c.post("/api/llm/switch", json={"model": "no-url"})
        assert refused.status_code == 400 and "baseURL" in refused.json()["message"]
        assert c.delete("/api/llm/custom-models/no-url").status_code == 200

        gone = c.delete("/api/llm/custom-models/team%2Fmodel")       # a name with a slash, URL-encoded
        assert gone.json() == {"ok": True, "deleted": "team/model"}
        missing = c.delete("/api/llm/custom-models/team%2Fmodel")
        assert missing.status_code == 404 and missing.json()["code"] == "custom_model_not_found"

    # In the server database: a new server on the same home has them.
    with serve() as server, server.client() as c:
        assert [m["name"] for m in c.get("/api/llm/custom-models").json()["models"]] == ["llama3:8b"]
    assert_nowhere(CUSTOM_KEY, seen, log_lines)


def test_switching_to_a_custom_model_uses_its_url_and_key(fake_llm, log_lines):
    responses = []
    with serve() as server, server.client() as c:
        c.post("/api/llm/custom-models", json={"name": "house-model", "baseURL": fake_llm.base_url,
                                               "apiKey": CUSTOM_KEY, "maxInputTokens": 32000})
        switched = c.post("/api/llm/switch", json={"model": "house-model"})
        responses.append(switched)
        assert switched.status_code == 200, switched.text
        config = switched.json()["config"]
        assert config["provider"] == "openai-compatible" and config["model"] == "house-model"
        assert config["baseURL"] == fake_llm.base_url and config["hasApiKey"] is True
        assert config["maxInputTokens"] == 32000
        reply = c.post("/api/message-sync", json={"content": "hello house"})
        responses.append(reply)
        assert reply.status_code == 200, reply.text
        assert reply.json()["response"] == "fake reply to: hello house"
        [request] = fake_llm.requests
        assert request["json"]["model"] == "house-model"
        assert request["headers"]["authorization"] == f"Bearer {CUSTOM_KEY}"
        responses.append(c.get("/api/llm/current"))
    assert_nowhere(CUSTOM_KEY, responses, log_lines)


# --- provider keys ---------------------------------------------------------------------------

def test_a_stored_provider_key_is_encrypted_never_shown_and_used_for_a_turn(fake_llm, log_lines):
    responses = []
    with serve() as server, server.client() as c:
        status = c.get("/api/llm/key/openai")
        assert status.json() == {"provider": "openai", "envVar": "OPENAI_API_KEY", "hasKey": False}
        to_openai = {"provider": "openai", "model": "gpt-4o-mini", "baseURL": fake_llm.base_url}
        refused = c.post("/api/llm/switch", json=to_openai)       # no key yet: the switch says so
        assert refused.status_code == 400 and "OPENAI_API_KEY" in refused.json()["message"]
        catalog = c.get("/api/llm/catalog").json()["providers"]
        assert catalog["openai"]["hasApiKey"] is False

        stored = c.post("/api/llm/key", json={"provider": "openai", "apiKey": OPENAI_KEY})
        responses.append(stored)
        assert stored.json() == {"ok": True, "provider": "openai", "envVar": "OPENAI_API_KEY"}
        status = c.get("/api/llm/key/openai")
        responses.append(status)
        assert status.json() == {"provider": "openai", "envVar": "OPENAI_API_KEY", "hasKey": True,
                                 "source": "stored", "keyValue": "..." + OPENAI_KEY[-4:]}
        assert c.get("/api/llm/catalog").json()["providers"]["openai"]["hasApiKey"] is True

        switched = c.post("/api/llm/switch", json=to_openai)
        responses.append(switched)
        assert switched.status_code == 200, switched.text
        assert switched.json()["config"]["provider"] == "openai"
        reply = c.post("/api/message-sync", json={"content": "with the stored key"})
        responses.append(reply)
        assert reply.json()["response"] == "fake reply to: with the stored key"
        assert fake_llm.requests[-1]["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"

        for body, field in (({"provider": "openai"}, "apiKey"), ({"provider": "nope", "apiKey": "k"}, "provider"),
                            ({"provider": "openai", "apiKey": ""}, "apiKey"),
                            ({"provider": "openai", "apiKey": " padded-key "}, "apiKey"),
                            ({"provider": "openai", "apiKey": "sk-" + "x" * 5000}, "apiKey"),
                            ({"provider": "openai", "apiKey": "k", "extra": 1}, "extra")):
            bad = c.post("/api/llm/key", json=body)
            assert bad.status_code == 400 and field in bad.text, (body, bad.text)
            assert len(body.get("apiKey", "").strip()) < 8 or body["apiKey"].strip() not in bad.text  # never echoed
        no_key = c.post("/api/llm/key", json={"provider": "ollama", "apiKey": "whatever-1234"})
        assert no_key.status_code == 400 and "provider" in no_key.text          # Ollama takes no key
        assert c.get("/api/llm/key/not-a-provider").status_code == 400
        assert c.get("/api/llm/key/local").status_code == 400

    # Encrypted at rest, under a key file only its owner can read.
    key_file = home() / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert_nowhere(OPENAI_KEY, responses, log_lines)


def test_a_stored_key_serves_an_agent_whose_own_key_is_absent_after_a_restart(fake_llm, log_lines):
    """The agent names anthropic with no key; the key stored earlier serves it, with the
    reasoning a switch asked for."""
    with serve() as server, server.client() as c:
        assert c.post("/api/llm/key", json={"provider": "anthropic", "apiKey": ANTHROPIC_KEY}).status_code == 200
    responses = []
    with serve() as server, server.client() as c:
        switched = c.post("/api/llm/switch", json={"provider": "anthropic", "model": "claude-sonnet-4-5",
                                                   "baseURL": fake_llm.anthropic_base_url,
                                                   "reasoning": {"variant": "low"}})
        responses.append(switched)
        assert switched.status_code == 200, switched.text
        assert switched.json()["config"]["reasoning"] == {"variant": "low"}
        reply = c.post("/api/message-sync", json={"content": "think a little"})
        responses.append(reply)
        assert reply.status_code == 200, reply.text
        request = fake_llm.requests[-1]
        sent = request["headers"].get("x-api-key") or request["headers"]["authorization"].removeprefix("Bearer ")
        assert sent == ANTHROPIC_KEY
        assert request["json"]["thinking"] == {"type": "enabled", "budget_tokens": 1024}

        # `reasoning: null` turns it off again; a bad variant is named.
        cleared = c.post("/api/llm/switch", json={"model": "claude-sonnet-4-5", "reasoning": None})
        assert cleared.status_code == 200 and "reasoning" not in cleared.json()["config"]
        c.post("/api/message-sync", json={"content": "no thinking"})
        assert "thinking" not in fake_llm.requests[-1]["json"]
        bad = c.post("/api/llm/switch", json={"model": "claude-sonnet-4-5", "reasoning": {"variant": ""}})
        assert bad.status_code == 400 and "reasoning" in bad.text
        only = c.post("/api/llm/switch", json={"reasoning": {"variant": "high"}})
        assert only.status_code == 400 and only.json()["details"]["fields"] == ["model", "provider"]
    assert_nowhere(ANTHROPIC_KEY, responses, log_lines)


def test_a_key_stored_under_another_secret_key_is_ignored_not_fatal(fake_llm, monkeypatch, log_lines):
    with serve() as server, server.client() as c:
        c.post("/api/llm/key", json={"provider": "openai", "apiKey": OPENAI_KEY})
    from cryptography.fernet import Fernet
    monkeypatch.setenv("SWITCHYARD_SECRET_KEY", Fernet.generate_key().decode())
    with serve() as server, server.client() as c:
        assert c.get("/api/llm/current").status_code == 200
        refused = c.post("/api/llm/switch", json={"provider": "openai", "model": "gpt-4o-mini",
                                                  "baseURL": fake_llm.base_url})
        assert refused.status_code == 400 and "OPENAI_API_KEY" in refused.text
    assert any("cannot be decrypted" in line for line in log_lines)
    assert not [line for line in log_lines if OPENAI_KEY in line]


def test_scopes_of_the_model_extras(monkeypatch, log_lines):
    production(monkeypatch)
    with serve() as server, server.client() as c:
        reader = bearer(create_key(c, "reader", ["read"]))
        chatter = bearer(create_key(c, "chatter", ["chat"]))
        for headers in (reader, chatter):
            assert c.post("/api/llm/key", headers=headers,
                          json={"provider": "openai", "apiKey": OPENAI_KEY}).status_code == 403
            assert c.get("/api/llm/key/openai", headers=headers).status_code == 403
            assert c.post("/api/llm/custom-models", headers=headers,
                          json={"name": "m", "provider": "ollama"}).status_code == 403
            assert c.delete("/api/llm/custom-models/m", headers=headers).status_code == 403
            assert c.post("/api/models/local/validate", headers=headers, json={"filePath": "/etc/passwd"}).status_code == 403
            assert c.get("/api/models/ollama", headers=headers,
                         params={"baseURL": "http://169.254.169.254"}).status_code == 403
            assert c.get("/api/llm/custom-models", headers=headers).status_code == 200
            assert c.get("/api/models/local", headers=headers).status_code == 200
        assert c.post("/api/llm/key", json={"provider": "openai", "apiKey": OPENAI_KEY}).status_code == 401
        stored = c.post("/api/llm/key", headers=ROOT, json={"provider": "openai", "apiKey": OPENAI_KEY})
        assert stored.status_code == 200
        audit = c.get("/api/audit", headers=ROOT, params={"limit": 500})
        assert any(e.get("route", "").endswith("/api/llm/key") for e in audit.json()["entries"]), audit.text
        assert_nowhere(OPENAI_KEY, [stored, audit], log_lines)


# --- local models and Ollama -----------------------------------------------------------------

def test_local_models_list_validate_and_delete(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "tiny-chat.gguf").write_bytes(b"GGUF" + bytes(60))
    (folder / "notes.txt").write_text("not a model")
    (folder / "fake.gguf").write_bytes(b"NOPE" + bytes(10))
    monkeypatch.setenv("SWITCHYARD_MODELS_DIR", str(folder))
    with serve() as server, server.client() as c:
        models = {m["id"]: m for m in c.get("/api/models/local").json()["models"]}
        assert models["tiny-chat"] == {"id": "tiny-chat", "displayName": "tiny-chat", "sizeBytes": 64,
                                       "filePath": str(folder / "tiny-chat.gguf"), "source": "manual"}
        assert "notes" not in models

        def validate(path: str) -> dict[str, Any]:
            response = c.post("/api/models/local/validate", json={"filePath": path})
            assert response.status_code == 200, response.text
            return response.json()
        assert validate(str(folder / "tiny-chat.gguf")) == {"valid": True, "sizeBytes": 64}
        assert validate(str(folder / "fake.gguf"))["error"].startswith("not a GGUF file")
        assert validate(str(folder / "missing.gguf")) == {"valid": False, "error": "no such file"}
        assert validate("relative.gguf") == {"valid": False, "error": "filePath must be an absolute path"}
        assert c.post("/api/models/local/validate", json={}).status_code == 400

        kept = c.request("DELETE", "/api/models/local/tiny-chat", json={"deleteFile": False})
        assert kept.status_code == 400 and (folder / "tiny-chat.gguf").exists()
        deleted = c.delete("/api/models/local/tiny-chat")
        assert deleted.json() == {"success": True, "modelId": "tiny-chat", "fileDeleted": True}
        assert not (folder / "tiny-chat.gguf").exists()
        again = c.delete("/api/models/local/tiny-chat")
        assert again.status_code == 404 and again.json()["code"] == "local_model_not_found"
        assert (folder / "notes.txt").exists()


class FakeOllama:
    """Ollama's /api/tags and /api/version on loopback."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                owner.paths.append(self.path)
                if self.path == "/api/tags":
                    body = {"models": [
                        {"name": "llama3.2:latest", "model": "llama3.2:latest", "size": 2019393189,
                         "digest": "a80c4f17acd5", "modified_at": "2026-11-30T10:00:00.5+01:00"},
                        {"name": "qwen2.5:0.5b", "size": 397821319}]}
                elif self.path == "/api/version":
                    body = {"version": "0.12.3"}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_ollama_models_from_a_local_ollama_and_when_none_answers(monkeypatch):
    ollama = FakeOllama()
    try:
        monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{ollama.port}")     # as the ollama CLI takes it
        with serve() as server, server.client() as c:
            listed = c.get("/api/models/ollama")
            assert listed.json() == {"available": True, "version": "0.12.3", "models": [
                {"name": "llama3.2:latest", "size": 2019393189, "digest": "a80c4f17acd5",
                 "modifiedAt": "2026-11-30T10:00:00.5+01:00"},
                {"name": "qwen2.5:0.5b", "size": 397821319}]}
            assert ollama.paths == ["/api/tags", "/api/version"]
            # An explicit baseURL (the preset's OpenAI-compatible one works too).
            explicit = c.get("/api/models/ollama", params={"baseURL": f"http://127.0.0.1:{ollama.port}/v1"})
            assert explicit.json()["available"] is True and len(explicit.json()["models"]) == 2
            closed = free_port()
            down = c.get("/api/models/ollama", params={"baseURL": f"http://127.0.0.1:{closed}"})
            assert down.status_code == 200
            assert down.json() == {"available": False, "models": [],
                                   "error": f"Ollama is not reachable at http://127.0.0.1:{closed}: ConnectError"}
            bad = c.get("/api/models/ollama", params={"baseURL": "file:///etc/passwd"})
            assert bad.status_code == 400 and bad.json()["details"]["field"] == "baseURL"
    finally:
        ollama.close()


# --- ?pretty ---------------------------------------------------------------------------------

def test_pretty_indents_api_json_only_when_asked():
    with serve() as server, server.client() as c:
        plain = c.get("/api/llm/current")
        pretty = c.get("/api/llm/current?pretty")
        assert "\n" not in plain.text
        assert pretty.text.startswith('{\n  "config": {\n    "') and pretty.json() == plain.json()
        assert int(pretty.headers["content-length"]) == len(pretty.content)
        also = c.get("/api/llm/custom-models", params={"pretty": "true"})
        assert also.text == '{\n  "models": []\n}'
        error = c.get("/api/sessions/nobody?pretty=1")
        assert error.status_code == 404 and error.text.startswith('{\n  "error"')
        refused = c.post("/api/message-sync?pretty", content=b"hi", headers={"content-type": "text/plain"})
        assert refused.status_code == 415 and refused.text.startswith('{\n  "error"')   # a middleware's envelope too
        assert c.get("/api/llm/current?prettyish=1").text == plain.text     # only the parameter itself
        assert "\n  " not in c.get("/v1/models?pretty").text               # /api/* only, as the reference
        assert c.get("/health?pretty").text == "OK"


def test_switchyard_serve_checks_and_runs_an_agent_with_the_stored_key(fake_llm, tmp_path):
    """An agent file naming openai without a key: refused at start, then served once the key is
    stored for the server (with the server's database and secret key under SWITCHYARD_HOME)."""
    import httpx

    from tests.support.cli_process import CliProcess, cli_env
    agent = tmp_path / "keyless.yml"
    agent.write_text(f"agentId: keyless\nllm: {{provider: openai, model: gpt-4o-mini, baseURL: '{fake_llm.base_url}'}}\n"
                     "storage: {database: {type: in-memory}}\n")
    env = cli_env(home())
    port = free_port()
    with CliProcess("serve", "--agent", str(agent), "--port", str(port), env=env) as refused:
        assert refused.proc.wait(60) == 2
        refused.stop()
    assert "OPENAI_API_KEY" in refused.output

    with serve() as server, server.client() as c:       # the same SWITCHYARD_HOME
        assert c.post("/api/llm/key", json={"provider": "openai", "apiKey": OPENAI_KEY}).status_code == 200
    with CliProcess("serve", "--agent", str(agent), "--port", str(port), env=env) as served:
        served.wait_for("Switchyard is ready on")
        reply = httpx.post(f"http://127.0.0.1:{port}/api/message-sync", json={"content": "from the cli"}, timeout=30)
        assert reply.status_code == 200, reply.text
        assert reply.json()["response"] == "fake reply to: from the cli"
        assert fake_llm.requests[-1]["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
        status = httpx.get(f"http://127.0.0.1:{port}/api/llm/key/openai", timeout=10).json()
        assert status["source"] == "stored" and OPENAI_KEY not in json.dumps(status)
        served.stop()
    assert OPENAI_KEY not in served.output and OPENAI_KEY not in reply.text


def test_a_config_reload_and_its_validation_use_the_stored_key(fake_llm, tmp_path):
    """An agent's file rewritten over HTTP to name openai without a key: refused before the key
    is stored, applied and answering with it after."""
    from tests.support.agent_folder import serve_folder
    folder = tmp_path / "agents"
    folder.mkdir()
    (folder / "main.yml").write_text(f"llm: {{provider: echo, model: echo}}\n"
                                     f"storage: {{database: {{type: sqlite, path: '{tmp_path / 'main.db'}'}}}}\n")
    keyless = (f"llm: {{provider: openai, model: gpt-4o-mini, baseURL: '{fake_llm.base_url}'}}\n"
               f"storage: {{database: {{type: sqlite, path: '{tmp_path / 'main.db'}'}}}}\n")
    with serve_folder(folder, "main") as live, live.client() as c:
        before = c.post("/api/agent/validate", json={"yaml": keyless}).json()
        assert before["valid"] is False and "OPENAI_API_KEY" in json.dumps(before["errors"])
        assert c.post("/api/llm/key", json={"provider": "openai", "apiKey": OPENAI_KEY}).status_code == 200
        assert c.post("/api/agent/validate", json={"yaml": keyless}).json()["valid"] is True
        applied = c.post("/api/agent/config", json={"yaml": keyless})
        assert applied.status_code == 200, applied.text
        reply = c.post("/api/message-sync", json={"content": "after the reload"})
        assert reply.json()["response"] == "fake reply to: after the reload"
        assert fake_llm.requests[-1]["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
        for response in (applied, reply, c.get("/api/agent/config"), c.get("/api/agent/config/export")):
            assert OPENAI_KEY not in response.text
