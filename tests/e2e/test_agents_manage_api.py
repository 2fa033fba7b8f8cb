"""Managing the agents of a multi-agent server over HTTP (`/api/agents/*`), on a real server
serving a real agents folder: install (from the folder, or a path inside the allowed roots;
path safety), uninstall, switch, validate-name, custom create, and the admin scope."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from tests.support.agent_folder import ENV_KEY_VALUE, billing_yaml, llm_block, make_folder, serve_folder
from tests.support.security import ROOT, ROOT_KEY, audit_entries, bearer, create_key


@pytest.fixture
def setup(tmp_path, monkeypatch, fake_llm):
    monkeypatch.setenv("FAKE_LLM_KEY", ENV_KEY_VALUE)
    source_root = tmp_path / "sources"
    source_root.mkdir()
    monkeypatch.setenv("SWITCHYARD_AGENT_INSTALL_ROOTS", str(source_root))
    folder = make_folder(tmp_path, fake_llm)
    with serve_folder(folder) as live:
        yield live, folder, source_root, fake_llm


def _ids(client) -> tuple[set[str], set[str]]:
    body = client.get("/api/agents").json()
    return {a["id"] for a in body["installed"]}, {a["id"] for a in body["available"]}


def test_an_agent_file_dropped_into_the_folder_is_available_then_installed(setup, tmp_path):
    live, folder, _, fake = setup
    (folder / "extra").mkdir()
    (folder / "extra" / "extra.yml").write_text(
        "agentCard: {name: Extra, description: The extra one}\nsystemPrompt: You are extra.\n"
        + llm_block(fake) + f"\nstorage: {{database: {{type: sqlite, path: '{tmp_path / 'extra.db'}'}}}}\n")
    with live.client() as c:
        assert _ids(c) == ({"support", "billing"}, {"extra"})
        r = c.post("/api/agents/install", json={"id": "extra"})
        assert r.status_code == 201, r.text
        assert r.json() == {"installed": True, "id": "extra", "name": "Extra", "type": "custom"}
        assert _ids(c) == ({"support", "billing", "extra"}, set())
        answer = c.post("/api/message-sync", json={"content": "hi extra", "agentId": "extra"})
        assert answer.status_code == 200 and answer.json()["agentId"] == "extra"
        assert "You are extra." in fake.requests[-1]["json"]["messages"][0]["content"]
        again = c.post("/api/agents/install", json={"id": "extra"})
        assert again.status_code == 409 and again.json()["code"] == "agent_exists"
        unknown = c.post("/api/agents/install", json={"id": "nobody"})
        assert unknown.status_code == 404


def test_install_copies_a_folder_from_an_allowed_root(setup, tmp_path):
    live, folder, source_root, fake = setup
    src = source_root / "helper-src"
    src.mkdir()
    (src / "prompt.md").write_text("You are the copied helper.")
    (src / "main.yml").write_text(
        "systemPrompt:\n  contributors:\n    - {id: p, type: file, priority: 1, files: [prompt.md]}\n"
        + llm_block(fake) + f"\nstorage: {{database: {{type: sqlite, path: '{tmp_path / 'helper.db'}'}}}}\n")
    (src / "outside-link").symlink_to(tmp_path / "support.db")   # a link is never copied
    with live.client() as c:
        r = c.post("/api/agents/install", json={
            "id": "helper", "name": "Helper", "sourcePath": str(src),
            "metadata": {"description": "Copied in", "author": "tests", "tags": ["x"], "main": "main.yml"}})
        assert r.status_code == 201, r.text
        assert r.json() == {"installed": True, "id": "helper", "name": "Helper", "type": "custom"}
        installed = folder / "helper"
        assert sorted(p.name for p in installed.iterdir()) == [".installed-by-switchyard", "helper.yml", "prompt.md"]
        answer = c.post("/api/message-sync", json={"content": "hi", "agentId": "helper"})
        assert answer.status_code == 200
        assert "You are the copied helper." in fake.requests[-1]["json"]["messages"][0]["content"]
        listed = {a["id"]: a for a in c.get("/api/agents").json()["installed"]}
        assert listed["helper"]["name"] == "Helper" and listed["helper"]["description"] == "Copied in"


def test_install_refuses_paths_outside_the_allowed_roots(setup, tmp_path):
    live, folder, source_root, _ = setup
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.yml").write_text("systemPrompt: evil\n")
    (source_root / "sneaky.yml").symlink_to(outside / "evil.yml")
    with live.client() as c:
        for source in (str(outside / "evil.yml"), f"{source_root}/../outside/evil.yml", "../outside/evil.yml",
                       "/etc/passwd", str(source_root / "sneaky.yml")):
            r = c.post("/api/agents/install", json={"id": "evil", "sourcePath": source,
                                                    "metadata": {"description": "", "author": "", "tags": []}})
            assert r.status_code == 403, (source, r.text)
            assert r.json()["code"] == "install_path_forbidden" and r.json()["details"]["field"] == "sourcePath"
            assert str(outside) not in r.text
        missing = c.post("/api/agents/install", json={"id": "ghost", "path": str(source_root / "nope.yml")})
        assert missing.status_code == 404 and missing.json()["details"]["field"] == "path"
        bad_id = c.post("/api/agents/install", json={"id": "Bad_ID", "sourcePath": str(source_root)})
        assert bad_id.status_code == 400 and bad_id.json()["details"]["field"] == "id"
        (source_root / "broken.yml").write_text("llm: {provider: nope}\n")
        broken = c.post("/api/agents/install", json={"id": "broken", "path": str(source_root / "broken.yml")})
        assert broken.status_code == 400
        assert broken.json()["details"]["issues"][0]["path"].startswith("llm")
        whole = c.post("/api/agents/install", json={"id": "whole", "sourcePath": str(folder)})
        assert whole.status_code == 400 and whole.json()["details"]["field"] == "sourcePath"
        assert not (folder / "broken").exists() and not (folder / "evil").exists()
        assert not (folder / "whole").exists()
        assert _ids(c)[0] == {"support", "billing"}


def test_custom_create_writes_a_file_and_serves_it(setup):
    live, folder, _, fake = setup
    config = {"systemPrompt": "You were created over HTTP.",
              "llm": {"provider": "openai-compatible", "model": "fake-model", "baseURL": fake.base_url,
                      "apiKey": "$FAKE_LLM_KEY"},
              "storage": {"database": {"type": "in-memory"}}}
    with live.client() as c:
        plain = c.post("/api/agents/custom/create", json={
            "id": "made", "name": "Made", "description": "d",
            "config": {**config, "llm": {**config["llm"], "apiKey": "sk-plain-SECRET-4411"}}})
        assert plain.status_code == 400 and "sk-plain-SECRET-4411" not in plain.text
        assert [i["path"] for i in plain.json()["details"]["issues"]] == ["config.llm.apiKey"]
        invalid = c.post("/api/agents/custom/create", json={"id": "made", "name": "Made", "description": "d",
                                                            "config": {**config, "surprise": True}})
        assert invalid.status_code == 400
        assert [i["path"] for i in invalid.json()["details"]["issues"]] == ["config.surprise"]
        assert not (folder / "made").exists()
        r = c.post("/api/agents/custom/create", json={"id": "made", "name": "Made", "description": "Made here",
                                                      "tags": ["t"], "config": config})
        assert r.status_code == 201, r.text
        assert r.json() == {"created": True, "id": "made", "name": "Made"}
        written = yaml.safe_load((folder / "made" / "made.yml").read_text())
        assert written["agentId"] == "made" and written["llm"]["apiKey"] == "$FAKE_LLM_KEY"
        answer = c.post("/api/message-sync", json={"content": "hi", "agentId": "made"})
        assert answer.status_code == 200
        assert "You were created over HTTP." in fake.requests[-1]["json"]["messages"][0]["content"]
        dup = c.post("/api/agents/custom/create", json={"id": "made", "name": "M", "description": "", "config": config})
        assert dup.status_code == 409
        # What create made, uninstall deletes.
        assert c.post("/api/agents/uninstall", json={"id": "made"}).status_code == 200
        assert not (folder / "made").exists()
        assert "made" not in _ids(c)[1]


def test_validate_name_switch_and_uninstall(setup):
    live, folder, _, _ = setup
    with live.client() as c:
        assert c.post("/api/agents/validate-name", json={"id": "billing"}).json()["valid"] is False
        assert c.post("/api/agents/validate-name", json={"id": "billing"}).json()["conflict"] == "custom"
        assert c.post("/api/agents/validate-name", json={"id": "fresh-one"}).json() == {"valid": True}
        bad = c.post("/api/agents/validate-name", json={"id": "Not Valid!"}).json()
        assert bad["valid"] is False and "lowercase" in bad["message"]

        assert c.get("/api/agents/current").json()["id"] == "support"
        switched = c.post("/api/agents/switch", json={"id": "billing"})
        assert switched.status_code == 200 and switched.json() == {"switched": True, "id": "billing", "name": "billing"}
        assert c.get("/api/agents/current").json()["id"] == "billing"
        assert c.post("/api/message-sync", json={"content": "who?"}).json()["agentId"] == "billing"
        by_path = c.post("/api/agents/switch", json={"id": "x", "path": "support/support.yml"})
        assert by_path.status_code == 200 and by_path.json()["id"] == "support"
        assert c.post("/api/agents/switch", json={"id": "nobody"}).status_code == 404

        current = c.post("/api/agents/uninstall", json={"id": "support"})
        assert current.status_code == 409 and current.json()["code"] == "agent_is_current"
        gone = c.post("/api/agents/uninstall", json={"id": "billing"})
        assert gone.status_code == 200 and gone.json() == {"uninstalled": True, "id": "billing"}
        assert c.post("/api/message-sync", json={"content": "x", "agentId": "billing"}).status_code == 404
        # billing.yml was not installed into a folder of its own: it stays, and is available again.
        assert (folder / "billing.yml").exists()
        assert _ids(c) == ({"support"}, {"billing"})
        last = c.post("/api/agents/uninstall", json={"id": "support", "force": True})
        assert last.status_code == 409 and last.json()["code"] == "agent_last"
        assert c.post("/api/agents/install", json={"id": "billing"}).status_code == 201
        # The operator's own folder stays; the agent is available again.
        forced = c.post("/api/agents/uninstall", json={"id": "support", "force": True})
        assert forced.status_code == 200
        assert (folder / "support" / "support.yml").exists()
        assert c.get("/api/agents/current").json()["id"] == "billing"
        assert _ids(c) == ({"billing"}, {"support"})


def test_without_an_agents_folder_install_says_how(tmp_path, monkeypatch, fake_llm):
    monkeypatch.setenv("FAKE_LLM_KEY", ENV_KEY_VALUE)
    folder = make_folder(tmp_path, fake_llm)
    with serve_folder(folder, with_folder=False) as live, live.client() as c:
        r = c.post("/api/agents/install", json={"id": "x", "sourcePath": str(folder)})
        assert r.status_code == 409 and r.json()["code"] == "no_agents_folder"
        assert "--agents" in r.json()["message"]


def test_management_needs_the_admin_scope_and_is_audited(tmp_path, monkeypatch, fake_llm):
    monkeypatch.setenv("FAKE_LLM_KEY", ENV_KEY_VALUE)
    monkeypatch.setenv("SWITCHYARD_ENV", "production")
    monkeypatch.setenv("SWITCHYARD_API_KEY", ROOT_KEY)
    folder = make_folder(tmp_path, fake_llm)
    with serve_folder(folder) as live, live.client() as c:
        # A file that arrives while serving: available, not installed.
        (folder / "spare.yml").write_text(billing_yaml(fake_llm, tmp_path / "spare.db"))
        chat = bearer(create_key(c, "chatter", ["chat"]))
        for url, body in (("/api/agents/install", {"id": "spare"}), ("/api/agents/uninstall", {"id": "billing"}),
                          ("/api/agents/switch", {"id": "billing"}), ("/api/agents/validate-name", {"id": "x"}),
                          ("/api/agents/custom/create", {"id": "x", "name": "x", "description": "", "config": {}})):
            r = c.post(url, json=body, headers=chat)
            assert r.status_code == 403, (url, r.text)
        assert c.get("/api/agents", headers=chat).status_code == 200
        assert c.post("/api/agents/install", json={"id": "spare"}, headers=ROOT).status_code == 201
        assert c.post("/api/agents/switch", json={"id": "spare"}, headers=ROOT).status_code == 200
        assert [e["action"] for e in audit_entries(c)].count("agent.change") >= 2


def _chat_over_mcp(url: str, message: str) -> tuple[bool, str]:
    import asyncio

    from mcp import Client

    async def call() -> tuple[bool, str]:
        async with Client(url, mode="legacy") as client:
            result = await client.call_tool("chat_with_agent", {"message": message})
            return result.is_error, "".join(getattr(c, "text", "") for c in result.content)
    return asyncio.run(call())


def test_an_agent_installed_while_serving_is_served_over_mcp(setup, tmp_path):
    live, folder, _, fake = setup
    (folder / "extra").mkdir()
    agent_file = folder / "extra" / "extra.yml"

    def write(prompt: str) -> None:
        agent_file.write_text(
            f"agentCard: {{name: Extra, description: The extra one}}\nsystemPrompt: {prompt}\n" + llm_block(fake)
            + f"\nstorage: {{database: {{type: sqlite, path: '{tmp_path / 'extra.db'}'}}}}\n")
    write("You are extra.")
    with live.client() as c:
        assert c.post("/api/agents/install", json={"id": "extra"}).status_code == 201
        failed, _ = _chat_over_mcp(f"{live.url}/agents/extra/mcp", "hello over mcp")
        assert not failed
        sent = fake.requests[-1]["json"]["messages"]
        assert "You are extra." in sent[0]["content"] and sent[-1]["content"] == "hello over mcp"

        # Uninstalled, then installed again with another prompt: MCP serves the new agent.
        assert c.post("/api/agents/uninstall", json={"id": "extra"}).status_code == 200
        gone = c.post(f"{live.url}/agents/extra/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                      headers={"accept": "application/json, text/event-stream"})
        assert gone.status_code == 404 and gone.json()["code"] == "agent_not_found"
        write("You are extra, again.")
        assert c.post("/api/agents/install", json={"id": "extra"}).status_code == 201
        failed, _ = _chat_over_mcp(f"{live.url}/agents/extra/mcp", "and again")
        assert not failed
        assert "You are extra, again." in fake.requests[-1]["json"]["messages"][0]["content"]


def test_the_router_is_built_at_start_and_again_after_an_install(setup, tmp_path):
    """No `auto` message waits for the index: it is built in the background when the server
    starts, and rebuilt (with the new agent) when one is installed."""
    live, folder, _, fake = setup
    routing = live.app.state.host.routing

    def built() -> Any:
        deadline = time.monotonic() + 30
        while routing._router is None:
            assert time.monotonic() < deadline, "the router was not built in the background"
            time.sleep(0.05)
        return routing._router
    assert set(built().agents) == {"support", "billing"}
    (folder / "extra").mkdir()
    (folder / "extra" / "extra.yml").write_text(
        "agentCard: {name: Extra, description: Tax returns and tax deadlines}\n" + llm_block(fake)
        + f"\nstorage: {{database: {{type: sqlite, path: '{tmp_path / 'extra.db'}'}}}}\n")
    with live.client() as c:
        assert c.post("/api/agents/install", json={"id": "extra"}).status_code == 201
    assert set(built().agents) == {"support", "billing", "extra"}
    with live.client() as c:
        routed = c.post("/api/message-sync", json={"content": "when is my tax return due?", "agentId": "auto"})
    assert routed.status_code == 200 and routed.json()["agentId"] == "extra"
