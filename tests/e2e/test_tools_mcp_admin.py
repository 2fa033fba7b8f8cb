"""MCP server management over HTTP (/api/mcp/servers...), strict versus lenient start, and the
admin scope the management routes need when auth is on."""

from __future__ import annotations

import asyncio
import sys

import pytest

from switchyard.config import parse_agent
from switchyard.runtime.agent import Agent
from switchyard.tools.mcp_support import MCPConnectionError
from tests.support.tools import DEMO_SERVER, agent_config, module_server, stdio_server

MISSING = "/nonexistent/switchyard-no-such-mcp-server"
ROOT_KEY = "sk-root-" + "r" * 40


@pytest.fixture(scope="module")
def live(tmp_path_factory, fake_llm_server):
    config = agent_config("admin", fake_llm_server.base_url,
                          mcpServers={"broken": {"command": MISSING, "connectionMode": "lenient"}})
    with module_server(tmp_path_factory, config) as server:
        yield server


@pytest.fixture
def c(live):
    with live.client() as client:
        yield client


def servers(c):
    return {s["id"]: s for s in c.get("/api/mcp/servers").json()["servers"]}


# --- start-up -----------------------------------------------------------------------------------

def test_lenient_server_that_fails_leaves_the_agent_up_with_status_error(c):
    assert c.get("/health").status_code == 200
    broken = servers(c)["broken"]
    assert broken["status"] == "error" and broken["name"] == "broken"
    assert MISSING in broken["error"] or "No such file" in broken["error"]
    # Its (unknown) tools are simply absent; the agent answers.
    assert c.get("/api/tools").json()["mcpCount"] == 0


def test_strict_server_that_fails_stops_agent_start_naming_it(fake_llm_server):
    config = agent_config("strict", fake_llm_server.base_url,
                          mcpServers={"needed": {"command": MISSING, "connectionMode": "strict"}})
    agent = Agent(parse_agent(config, env={}), env={})

    async def start() -> None:
        try:
            await agent.start()
        finally:
            await agent.stop(0)

    with pytest.raises(MCPConnectionError) as info:
        asyncio.run(start())
    assert "'needed'" in str(info.value) and "strict" in str(info.value)
    assert info.value.details["servers"][0]["name"] == "needed"


def test_strict_server_that_fails_stops_the_app_start_up(fake_llm_server, tmp_path, monkeypatch):
    from switchyard.runtime.host import AgentHost
    from switchyard.server.app import create_app
    monkeypatch.setenv("SWITCHYARD_HOME", str(tmp_path))
    config = agent_config("strict", fake_llm_server.base_url,
                          mcpServers={"needed": {"command": MISSING, "connectionMode": "strict"}})
    app = create_app(AgentHost([Agent(parse_agent(config, env={}), env={})]), shutdown_grace=1)

    async def lifespan() -> None:
        async with app.router.lifespan_context(app):
            raise AssertionError("the app started without its strict MCP server")

    with pytest.raises(MCPConnectionError, match="'needed'"):
        asyncio.run(lifespan())


# --- management routes --------------------------------------------------------------------------

def test_add_inspect_execute_update_restart_delete(c):
    r = c.post("/api/mcp/servers", json={"name": "extra", "config": stdio_server(timeout=5000)})
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "connected", "name": "extra"}
    assert servers(c)["extra"] == {"id": "extra", "name": "extra", "status": "connected"}
    r = c.post("/api/mcp/servers", json={"name": "extra", "config": stdio_server()})
    assert r.status_code == 409 and r.json()["code"] == "mcp_server_exists"

    listed = {t["name"]: t for t in c.get("/api/tools").json()["tools"]}
    assert listed["add"]["serverName"] == "extra" and listed["add"]["source"] == "mcp"

    config = c.get("/api/mcp/servers/extra/config").json()
    assert config["name"] == "extra"
    assert config["config"]["type"] == "stdio" and config["config"]["command"] == sys.executable
    assert config["config"]["args"] == [DEMO_SERVER] and config["config"]["timeout"] == 5000

    tools = {t["name"]: t for t in c.get("/api/mcp/servers/extra/tools").json()["tools"]}
    assert tools["get_weather"]["id"] == "get_weather"
    assert tools["get_weather"]["inputSchema"]["required"] == ["city"]

    resources = c.get("/api/mcp/servers/extra/resources").json()
    assert resources["success"] is True
    assert resources["resources"][0]["uri"] == "mcp:extra:demo://greeting"
    assert resources["resources"][0]["originalUri"] == "demo://greeting"
    content = c.get("/api/mcp/servers/extra/resources/demo%3A%2F%2Fgreeting/content").json()
    assert content["data"]["content"][0]["text"] == "Hello from the demo server"

    r = c.post("/api/mcp/servers/extra/tools/add/execute", json={"a": 20, "b": 22})
    assert r.status_code == 200
    assert r.json() == {"success": True, "data": {"content": [{"type": "text", "text": "42"}],
                                                  "structuredContent": {"result": 42}}}
    r = c.post("/api/mcp/servers/extra/tools/add/execute", json={"a": "x"})
    assert r.status_code == 200 and r.json()["success"] is False
    assert "Invalid arguments" in r.json()["error"] and "'b' is a required property" in r.json()["error"]
    r = c.post("/api/mcp/servers/extra/tools/nope/execute", json={})
    assert r.status_code == 200 and r.json()["success"] is False and "nope" in r.json()["error"]
    r = c.post("/api/mcp/servers/extra/tools/add/execute", content=b"{oops",
               headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_json"

    # Update: a new config (here an extra env variable) reconnects the server.
    r = c.put("/api/mcp/servers/extra", json={"config": stdio_server(env={"DEMO_SETTING": "on"})})
    assert r.status_code == 200 and r.json() == {"status": "connected", "name": "extra"}
    keys = c.post("/api/mcp/servers/extra/tools/env_keys/execute", json={}).json()
    assert "DEMO_SETTING" in keys["data"]["structuredContent"]["result"]
    assert c.get("/api/mcp/servers/extra/config").json()["config"]["env"] == {"DEMO_SETTING": "on"}

    before = c.post("/api/mcp/servers/extra/tools/pid/execute", json={}).json()["data"]["structuredContent"]
    r = c.post("/api/mcp/servers/extra/restart")
    assert r.status_code == 200 and r.json()["status"] == "restarted" and r.json()["id"] == "extra"
    after = c.post("/api/mcp/servers/extra/tools/pid/execute", json={}).json()["data"]["structuredContent"]
    assert before != after

    r = c.delete("/api/mcp/servers/extra")
    assert r.status_code == 200 and r.json() == {"status": "disconnected", "id": "extra"}
    assert "extra" not in servers(c)
    assert "add" not in {t["name"] for t in c.get("/api/tools").json()["tools"]}
    assert c.get("/api/mcp/servers/extra/tools").status_code == 404

    # Every change is in the audit log.
    actions = [e["action"] for e in c.get("/api/audit", params={"action": "mcp.*", "limit": 100})
               .json()["entries"]]
    for action in ("mcp.add", "mcp.update", "mcp.restart", "mcp.remove", "mcp.execute"):
        assert action in actions


def test_adding_servers_that_fail_or_are_disabled(c):
    r = c.post("/api/mcp/servers", json={"name": "lenient-bad", "config": {"command": MISSING}})
    assert r.status_code == 200 and r.json()["status"] == "error" and r.json()["error"]
    assert servers(c)["lenient-bad"]["status"] == "error"
    r = c.post("/api/mcp/servers", json={"name": "strict-bad",
                                         "config": {"command": MISSING, "connectionMode": "strict"}})
    assert r.status_code == 502 and r.json()["code"] == "mcp_connection_failed"
    assert "'strict-bad'" in r.json()["message"]
    assert "strict-bad" not in servers(c)
    r = c.post("/api/mcp/servers", json={"name": "off", "config": {**stdio_server(), "enabled": False}})
    assert r.status_code == 200 and r.json() == {"status": "registered", "name": "off"}
    r = c.post("/api/mcp/servers/off/tools/add/execute", json={"a": 1, "b": 1})
    assert r.json()["success"] is False
    for name in ("lenient-bad", "off"):
        assert c.delete(f"/api/mcp/servers/{name}").status_code == 200


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/mcp/servers/ghost/config"),
    ("GET", "/api/mcp/servers/ghost/tools"),
    ("GET", "/api/mcp/servers/ghost/resources"),
    ("GET", "/api/mcp/servers/ghost/resources/x/content"),
    ("PUT", "/api/mcp/servers/ghost"),
    ("DELETE", "/api/mcp/servers/ghost"),
    ("POST", "/api/mcp/servers/ghost/restart"),
    ("POST", "/api/mcp/servers/ghost/tools/add/execute"),
])
def test_unknown_server_is_404(c, method, path):
    body = {"config": {"command": "x"}} if method == "PUT" else {}
    r = c.request(method, path, json=body)
    assert r.status_code == 404, r.text
    assert r.json()["code"] == "mcp_server_not_found" and "ghost" in r.json()["message"]


@pytest.mark.parametrize("body, field", [
    ({"name": "x", "config": {"type": "stdio"}}, "config.command"),
    ({"name": "x", "config": {"command": ""}}, "config.command"),
    ({"name": "x", "config": {"type": "http", "url": "ftp://example"}}, "config.url"),
    ({"name": "x", "config": {"type": "bogus"}}, "config.type"),
    ({"name": "x", "config": {"command": "c", "timeout": 0}}, "config.timeout"),
    ({"name": "x", "config": {"command": "c", "connectionMode": "sometimes"}}, "config.connectionMode"),
    ({"name": "x", "config": {"command": "c", "surprise": 1}}, "config.surprise"),
    ({"name": "x", "config": "python server.py"}, "config"),
    ({"config": {"command": "c"}}, "name"),
    ({"name": "a/b", "config": {"command": "c"}}, "name"),
    ({"name": "x", "config": {"command": "c"}, "other": 1}, "other"),
])
def test_bad_add_body_is_400_naming_the_field(c, body, field):
    r = c.post("/api/mcp/servers", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["message"].startswith(f"{field}:"), r.json()
    assert "x" not in servers(c)


def test_bad_update_body_is_400_naming_the_field(c):
    r = c.put("/api/mcp/servers/broken", json={"config": {"type": "stdio", "args": []}})
    assert r.status_code == 400 and r.json()["message"].startswith("config.command:")
    assert servers(c)["broken"]["status"] == "error"  # untouched


# --- with auth on: reading needs `read`, changing needs `admin` -----------------------------------

def test_management_needs_the_admin_scope_when_auth_is_on(tmp_path_factory, fake_llm_server):
    config = agent_config("secured", fake_llm_server.base_url)
    auth = {"SWITCHYARD_API_KEY": ROOT_KEY, "SWITCHYARD_REQUIRE_AUTH": "true"}
    with module_server(tmp_path_factory, config, env=auth) as live:
        root = {"Authorization": f"Bearer {ROOT_KEY}"}
        with live.client(headers=root) as admin, live.client() as anonymous:
            keys = {scope: admin.post("/api/keys", json={"name": f"k-{scope}", "scopes": [scope]})
                    .json()["key"] for scope in ("chat", "read")}
            add = {"name": "x", "config": {"command": MISSING}}
            assert anonymous.post("/api/mcp/servers", json=add).status_code == 401
            for key in keys.values():
                headers = {"Authorization": f"Bearer {key}"}
                assert admin.post("/api/mcp/servers", json=add, headers=headers).status_code == 403
                assert admin.get("/api/mcp/servers", headers=headers).status_code == 200
                assert admin.get("/api/tools", headers=headers).status_code == 200
            r = admin.post("/api/mcp/servers", json={
                "name": "x", "config": {"command": MISSING, "env": {"TOKEN": "s3cret"}}})
            assert r.status_code == 200 and r.json()["status"] == "error"
            # The config's env values are shown to admins only.
            read = {"Authorization": f"Bearer {keys['read']}"}
            assert admin.get("/api/mcp/servers/x/config").json()["config"]["env"] == {"TOKEN": "s3cret"}
            assert admin.get("/api/mcp/servers/x/config", headers=read).json()["config"]["env"] == \
                {"TOKEN": "[REDACTED]"}
            assert admin.delete("/api/mcp/servers/x").status_code == 200


def test_one_server_is_readable_by_its_id(c):
    # Issue 18.10: GET /api/mcp/servers/{id} was documented but answered 405.
    one = c.get("/api/mcp/servers/broken")
    assert one.status_code == 200, one.text
    assert one.json() == servers(c)["broken"]
    missing = c.get("/api/mcp/servers/nosuch")
    assert missing.status_code == 404 and missing.json()["code"] == "mcp_server_not_found"


def test_mcp_configs_the_document_calls_valid_are_accepted(c):
    # Issue 17.13: `config` was documented as any object; `{}` or a config without `type`
    # looked valid. Now the document describes the real union, `type` optional as in agent
    # files, and bodies valid by it are accepted (this operation is not fuzzed: it runs commands).
    import jsonschema
    spec = c.get("/openapi.json").json()
    body_schema = {**spec["components"]["schemas"]["AddServerBody"], "components": spec["components"]}
    validator = jsonschema.Draft202012Validator(body_schema)
    typeless = [{"name": "typeless-stdio", "config": {"command": sys.executable, "args": [DEMO_SERVER]}},
                {"name": "typeless-http", "config": {"url": "http://127.0.0.1:9/mcp", "timeout": 500}}]
    for body in typeless:
        assert validator.is_valid(body), body
        added = c.post("/api/mcp/servers", json=body)
        assert added.status_code == 200, added.text
        assert c.delete(f"/api/mcp/servers/{body['name']}").status_code == 200
    for config in ({}, {"type": "stdio"}, {"url": "ftp://x"}, {"command": "x", "url": "http://x"}):
        body = {"name": "refused", "config": config}
        assert not validator.is_valid(body), config
        refused = c.post("/api/mcp/servers", json=body)
        assert refused.status_code == 400, (config, refused.text)
        assert refused.json()["details"]["issues"][0]["path"].startswith("config")
