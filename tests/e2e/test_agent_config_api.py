"""An agent's configuration over HTTP (`/api/agent/*`), on a real server serving a real
agents folder, its agents talking to the scripted fake LLM and a real MCP server over stdio:
reading the file with secrets redacted, validating, applying a change without a restart
(the next turn runs it; a running turn finishes as it began; the file is replaced
atomically), the export with secrets redacted, and the admin scope."""

from __future__ import annotations

import threading
import time

import pytest
import yaml

from tests.support.agent_folder import ENV_KEY_VALUE, MCP_TOKEN, make_folder, serve_folder, support_yaml
from tests.support.fake_llm import Delay, Text, ToolCalls
from tests.support.security import ROOT, ROOT_KEY, audit_entries, bearer, create_key


@pytest.fixture
def setup(tmp_path, monkeypatch, fake_llm):
    monkeypatch.setenv("FAKE_LLM_KEY", ENV_KEY_VALUE)
    folder = make_folder(tmp_path, fake_llm)
    with serve_folder(folder) as live:
        yield live, folder, fake_llm


def _system_prompt(request: dict) -> str:
    return next(m["content"] for m in request["json"]["messages"] if m["role"] == "system")


def test_path_and_file_are_read_with_secrets_redacted(setup):
    live, folder, _ = setup
    path = folder / "support" / "support.yml"
    with live.client() as c:
        assert c.get("/api/agent/path").json() == {"path": str(path.resolve()), "relativePath": "support.yml",
                                                   "name": "support", "isDefault": True}
        billing = c.get("/api/agent/path", params={"agentId": "billing"}).json()
        assert billing["relativePath"] == "billing.yml" and billing["isDefault"] is False
        r = c.get("/api/agent/config")
        assert r.status_code == 200
        body = r.json()
        assert body["path"] == str(path.resolve()) and body["relativePath"] == "support.yml"
        assert body["lastModified"].endswith("Z") and len(body["warnings"]) == 2
        text = body["yaml"]
        assert "# The support agent (this comment is kept)" in text
        assert "apiKey: $FAKE_LLM_KEY" in text                  # a reference is not a secret
        assert MCP_TOKEN not in r.text and ENV_KEY_VALUE not in r.text
        assert yaml.safe_load(text)["mcpServers"]["demo"]["env"]["NOTES_TOKEN"] == "[REDACTED]"
        missing = c.get("/api/agent/config", params={"agentId": "nobody"})
        assert missing.status_code == 404 and missing.json()["code"] == "agent_not_found"


def test_validate_reports_errors_and_warnings_with_paths(setup, fake_llm):
    live, _, _ = setup
    with live.client() as c:
        good = c.post("/api/agent/validate", json={"yaml": support_yaml(fake_llm, "/tmp/x.db")}).json()
        assert good["valid"] is True and good["errors"] == []
        assert {"path": "mcpServers.demo.env.NOTES_TOKEN", "code": "SECURITY_WARNING"}.items() <= \
            good["warnings"][0].items()
        broken = c.post("/api/agent/validate", json={"yaml": "llm: {provider: openai\nmodel: [x"}).json()
        assert broken["valid"] is False and broken["errors"][0]["code"] == "YAML_PARSE_ERROR"
        assert broken["errors"][0]["line"] >= 1 and broken["errors"][0]["column"] >= 1
        listed = c.post("/api/agent/validate", json={"yaml": "- a\n- b\n"}).json()
        assert listed["errors"][0]["code"] == "INVALID_CONFIG_TYPE"
        bad = c.post("/api/agent/validate", json={"yaml": "llm: {provider: nope, model: m}\nsurprise: 1\n"}).json()
        paths = {e["path"] for e in bad["errors"]}
        assert bad["valid"] is False and {"llm.provider", "surprise"} <= paths
        assert all(e["code"] == "SCHEMA_VALIDATION_ERROR" for e in bad["errors"])
        renamed = c.post("/api/agent/validate", json={"yaml": "agentId: other\nsystemPrompt: hi\n"}).json()
        assert any(e["path"] == "agentId" for e in renamed["errors"])
        wrong_body = c.post("/api/agent/validate", json={"yml": "x"})
        assert wrong_body.status_code == 400 and wrong_body.json()["code"] == "validation_failed"


def test_a_saved_config_is_written_atomically_and_runs_on_the_next_turn(setup):
    live, folder, fake = setup
    path = folder / "support" / "support.yml"
    with live.client() as c:
        first = c.post("/api/message-sync", json={"content": "hello", "sessionId": "s1"})
        assert first.status_code == 200
        assert "Version one." in _system_prompt(fake.requests[-1])
        new_text = support_yaml(fake, folder.parent / "support.db", prompt="You are the support agent. Version two.")
        saved = c.post("/api/agent/config", json={"yaml": new_text})
        assert saved.status_code == 200, saved.text
        body = saved.json()
        assert body["ok"] is True and body["reloaded"] is True and body["path"] == str(path.resolve())
        assert body["changesApplied"] == ["systemPrompt"]
        assert path.read_text() == new_text
        assert sorted(p.name for p in path.parent.iterdir()) == ["support.yml"]   # no temporary file left
        second = c.post("/api/message-sync", json={"content": "again", "sessionId": "s1"})
        assert second.status_code == 200
        assert "Version two." in _system_prompt(fake.requests[-1])
        # The session's history went on across the reload.
        history = c.get("/api/sessions/s1/history").json()["history"]
        assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
        # The MCP server of the new configuration is connected.
        tools = c.get("/api/tools").json()
        assert any(t.get("name") == "add" or t.get("id") == "add" for t in tools.get("tools", tools))
        assert "Version two." in c.get("/api/agent/config").json()["yaml"]


def test_a_running_turn_finishes_with_the_configuration_it_began_with(setup):
    live, folder, fake = setup
    released = threading.Event()

    def held_answer(_body: dict) -> Text:
        # Holds the model's answer (and the fake's loop: nothing else needs it meanwhile)
        # until the reload is done, so the turn is surely running across it.
        released.wait(30)
        return Text("the old answer")

    fake.script(held_answer)
    answers: dict[str, object] = {}

    def slow_turn() -> None:
        with live.client() as c:
            answers["first"] = c.post("/api/message-sync", json={"content": "slow one", "sessionId": "busy"}).json()

    worker = threading.Thread(target=slow_turn)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while not fake.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert fake.requests, "the slow turn never reached the model"
        with live.client() as c:
            new_text = support_yaml(fake, folder.parent / "support.db", prompt="Version three prompt.")
            assert c.post("/api/agent/config", json={"yaml": new_text}).status_code == 200
            # The session's turn still runs on the replaced agent: the new one does not start
            # a second turn in it (message-sync does not wait: 409) ...
            busy = c.post("/api/message-sync", json={"content": "too soon", "sessionId": "busy"})
            assert busy.status_code == 409 and busy.json()["code"] == "session_busy"
            # ... and /api/message queues behind it.
            assert c.post("/api/message", json={"content": "next one", "sessionId": "busy"}).status_code == 202
            released.set()
            worker.join(20)
            assert answers["first"]["response"] == "the old answer"
            history: list = []
            deadline = time.monotonic() + 20
            while len(history) < 4 and time.monotonic() < deadline:
                history = c.get("/api/sessions/busy/history").json()["history"]
                time.sleep(0.05)
    finally:
        released.set()
        worker.join(20)
    assert [(m["role"], m["content"]) for m in history][:3] == [
        ("user", "slow one"), ("assistant", "the old answer"), ("user", "next one")]
    assert len(history) == 4
    assert "Version one." in _system_prompt(fake.requests[0])
    assert "Version three prompt." in _system_prompt(fake.requests[-1])


def test_an_invalid_config_is_refused_with_paths_and_changes_nothing(setup):
    live, folder, fake = setup
    path = folder / "support" / "support.yml"
    before = path.read_text()
    with live.client() as c:
        bad = c.post("/api/agent/config", json={"yaml": "llm: {provider: nope, model: m}\nsurprise: 1\n"})
        assert bad.status_code == 400
        envelope = bad.json()
        assert envelope["code"] == "config_invalid"
        assert {"llm.provider", "surprise"} <= {i["path"] for i in envelope["details"]["issues"]}
        syntax = c.post("/api/agent/config", json={"yaml": "a: [1,\n"})
        assert syntax.status_code == 400 and "line" in syntax.json()["details"]["issues"][0]
        # A redacted file posted back would overwrite the secret with the placeholder: refused.
        redacted = c.get("/api/agent/config").json()["yaml"]
        placeholder = c.post("/api/agent/config", json={"yaml": redacted})
        assert placeholder.status_code == 400
        assert [i["path"] for i in placeholder.json()["details"]["issues"]] == ["mcpServers.demo.env.NOTES_TOKEN"]
        assert MCP_TOKEN not in placeholder.text
        # A strict MCP server that cannot start: the new agent is not swapped in.
        broken = before.replace("command: ", "connectionMode: strict\n    command: /nonexistent/").replace(
            "Version one.", "Version broken.")
        failed = c.post("/api/agent/config", json={"yaml": broken})
        assert failed.status_code == 502 and failed.json()["code"] == "mcp_connection_failed"
        assert "'demo'" in failed.json()["message"]
        assert path.read_text() == before
        assert c.post("/api/message-sync", json={"content": "still there?"}).status_code == 200
        assert "Version one." in _system_prompt(fake.requests[-1])


def test_export_is_the_effective_config_with_secrets_redacted(setup):
    live, _, _ = setup
    with live.client() as c:
        r = c.get("/api/agent/config/export")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-yaml")
        assert MCP_TOKEN not in r.text and ENV_KEY_VALUE not in r.text
        config = yaml.safe_load(r.text)
        assert config["agentId"] == "support" and config["llm"]["model"] == "fake-model"
        assert config["llm"]["apiKey"] == "$FAKE_LLM_KEY"
        assert config["mcpServers"]["demo"]["env"]["NOTES_TOKEN"] == "[REDACTED]"
        # A session's own model, with a key given for it alone: shown, the key redacted.
        c.post("/api/sessions", json={"sessionId": "own"})
        switched = c.post("/api/llm/switch", json={"sessionId": "own", "model": "other-model",
                                                   "apiKey": "session-key-SECRET-93ab"})
        assert switched.status_code == 200, switched.text
        own = c.get("/api/agent/config/export", params={"sessionId": "own"})
        assert "session-key-SECRET-93ab" not in own.text and ENV_KEY_VALUE not in own.text
        assert yaml.safe_load(own.text)["llm"] == {**config["llm"], "model": "other-model", "apiKey": "[REDACTED]"}
        assert c.get("/api/agent/config/export", params={"sessionId": "none-such"}).status_code == 404


def test_config_routes_need_the_admin_scope_and_are_audited(tmp_path, monkeypatch, fake_llm):
    monkeypatch.setenv("FAKE_LLM_KEY", ENV_KEY_VALUE)
    monkeypatch.setenv("SWITCHYARD_ENV", "production")
    monkeypatch.setenv("SWITCHYARD_API_KEY", ROOT_KEY)
    folder = make_folder(tmp_path, fake_llm)
    with serve_folder(folder) as live, live.client() as c:
        chat = bearer(create_key(c, "chatter", ["chat"]))
        reader = bearer(create_key(c, "reader", ["read"]))
        text = (folder / "support" / "support.yml").read_text()
        for method, url, body in (("GET", "/api/agent/config", None), ("POST", "/api/agent/config", {"yaml": text}),
                                  ("GET", "/api/agent/config/export", None),
                                  ("POST", "/api/agent/validate", {"yaml": text})):
            for headers in (chat, reader):
                r = c.request(method, url, json=body, headers=headers)
                assert r.status_code == 403, (method, url, r.text)
        assert c.get("/api/agent/path", headers=reader).status_code == 200
        assert c.get("/api/agent/config").status_code == 401
        assert c.post("/api/agent/config", json={"yaml": text}, headers=ROOT).status_code == 200
        actions = [e["action"] for e in audit_entries(c)]
        assert "config.change" in actions


def test_an_approval_asked_before_a_reload_is_answered_after_it(tmp_path, monkeypatch, fake_llm):
    monkeypatch.setenv("FAKE_LLM_KEY", ENV_KEY_VALUE)
    folder = make_folder(tmp_path, fake_llm)
    path = folder / "support" / "support.yml"
    path.write_text(path.read_text() + "permissions: {mode: manual}\n")
    fake_llm.script(ToolCalls([("call_1", "add", {"a": 1, "b": 2})]), Text("the sum is 3"))
    answers: dict[str, object] = {}
    with serve_folder(folder) as live, live.client() as c:
        def turn() -> None:
            with live.client() as own:
                answers["r"] = own.post("/api/message-sync", json={"content": "add 1 and 2", "sessionId": "ap"}).json()

        worker = threading.Thread(target=turn)
        worker.start()
        pending: list = []
        deadline = time.monotonic() + 20
        while not pending and time.monotonic() < deadline:
            pending = c.get("/api/approvals", params={"sessionId": "ap"}).json()["approvals"]
            time.sleep(0.05)
        assert pending, "the tool call never asked for approval"
        new_text = path.read_text().replace("Version one.", "Version four.")
        assert c.post("/api/agent/config", json={"yaml": new_text}).status_code == 200
        # The turn waiting for the answer belongs to the replaced agent: still listed, still answered.
        assert [a["approvalId"] for a in c.get("/api/approvals", params={"sessionId": "ap"}).json()["approvals"]] \
            == [pending[0]["approvalId"]]
        answered = c.post(f"/api/approvals/{pending[0]['approvalId']}", json={"status": "approved"})
        assert answered.status_code == 200, answered.text
        worker.join(20)
        assert answers["r"]["response"] == "the sum is 3"
        history = c.get("/api/sessions/ap/history").json()["history"]
        assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant"]
        assert "3" in str(history[2]["content"])
        assert c.post("/api/message-sync", json={"content": "and now?", "sessionId": "ap"}).status_code == 200
        assert "Version four." in _system_prompt(fake_llm.requests[-1])


def test_nested_yaml_aliases_are_refused_before_they_expand(setup):
    live, _, _ = setup
    levels = ["a: &a [x, x, x, x, x, x, x, x]"] + [
        f"{name}: &{name} [{', '.join([f'*{prev}'] * 8)}]" for prev, name in zip("abcdefg", "bcdefgh")]
    with live.client() as c:
        r = c.post("/api/agent/validate", json={"yaml": "\n".join(levels) + "\n"})
        assert r.status_code == 200
        assert r.json()["valid"] is False and "aliases" in r.json()["errors"][0]["message"]
        saved = c.post("/api/agent/config", json={"yaml": "\n".join(levels) + "\n"})
        assert saved.status_code == 400 and "aliases" in saved.json()["message"]
