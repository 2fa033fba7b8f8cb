"""Route registration and settings: every route has a scope, the scope table agrees, OpenAPI
documents real answers, and the settings object (not the environment) drives the routes."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from switchyard.server import response_models as rm
from switchyard.server.routes import SCOPES, RouteGroup, RouteSpec, route_specs
from switchyard.server.security.scopes import verify_routes
from switchyard.server.settings import RouterSettings, ServerSettings
from tests.support.live_server import LiveServer

SRC = Path(__file__).resolve().parents[2] / "src" / "switchyard"


def echo_host(tmp_path: Path, **extra: Any) -> Any:
    from switchyard.config import parse_agent
    from switchyard.runtime.agent import Agent
    from switchyard.runtime.host import AgentHost
    config = {"agentId": "echo-agent", "llm": {"provider": "echo"}, "greeting": "Hi",
              "storage": {"database": {"type": "sqlite", "path": str(tmp_path / "db.sqlite")}}, **extra}
    return AgentHost([Agent(parse_agent(config, env={}), env={})])


def make_app(tmp_path: Path, env: dict[str, str] | None = None, **flags: Any) -> FastAPI:
    from switchyard.server.app import create_app
    base = {"SWITCHYARD_HOME": str(tmp_path / "home")}
    settings = ServerSettings.from_env({**base, **(env or {})}, **flags)
    return create_app(echo_host(tmp_path), settings=settings, shutdown_grace=1)


# --- every route has a scope ---------------------------------------------------------------

def test_every_served_route_is_declared_with_a_scope(tmp_path):
    app = make_app(tmp_path)
    declared = {id(spec.route): spec for spec in route_specs(app)}
    for route in app.router.routes:
        spec = declared.get(id(route))
        assert spec is not None, f"{route!r} was not registered through a RouteGroup"
        assert spec.scope in SCOPES
    # Public routes are few, and named.
    public = sorted({s.path for s in route_specs(app) if s.scope == "public"})
    assert public == ["/", "/.well-known/agent-card.json", "/agents/{agent_id}/.well-known/agent-card.json",
                      "/docs", "/health", "/openapi.json", "/ui", "/ui/{asset:path}"]
    assert verify_routes(route_specs(app)) == []


def test_a_declaration_the_scope_table_disagrees_with_is_refused(tmp_path):
    wrong = [RouteSpec("/api/keys", ("GET",), "read", "api"),
             RouteSpec("/api/message-sync", ("POST",), "chat", "api", runs=False),
             RouteSpec("/health", ("GET",), "read", "fast")]
    problems = verify_routes(wrong)
    assert any("/api/keys is declared 'read', the table says 'admin'" in p for p in problems)
    assert any("/api/message-sync" in p and "runs" in p for p in problems)
    assert any("/health is declared 'read', the table says 'public'" in p for p in problems)

    from switchyard.server import routes as registry
    app = FastAPI()
    registry.prepare(app)
    group = RouteGroup(tags=["t"])

    @group.post("/api/keys/{name}/whatever", scope="chat", summary="wrong on purpose")
    async def whatever() -> dict[str, Any]:
        return {}

    group.install(app)
    registry.declare_framework_routes(app, public=("/openapi.json", "/docs"))
    with pytest.raises(RuntimeError, match="disagree with the scope table"):
        registry.finish_routes(app)


def test_declarations_are_checked_when_made():
    group = RouteGroup(tags=["t"])
    with pytest.raises(ValueError, match="scope must be one of"):
        group.get("/api/x", scope="root", summary="x")
    with pytest.raises(ValueError, match="only GET"):
        group.post("/api/x", scope="read", summary="x", fast=True)


# --- OpenAPI ---------------------------------------------------------------------------------

MAIN = {
    ("post", "/api/message-sync"): "MessageSyncResult",
    ("get", "/api/sessions"): "SessionList",
    ("post", "/api/sessions"): "SessionResult",
    ("get", "/api/sessions/{session_id}/history"): "SessionHistory",
    ("get", "/api/llm/current"): "LLMCurrent",
    ("post", "/api/llm/switch"): "LLMSwitched",
    ("get", "/api/llm/catalog"): "LLMCatalog",
    ("get", "/api/llm/capabilities"): "LLMCapabilities",
    ("get", "/api/agents"): "AgentList",
    ("get", "/api/approvals"): "ApprovalList",
    ("get", "/api/tools"): "ToolList",
    ("get", "/api/mcp/servers"): "MCPServerList",
}


def _ref(operation: dict[str, Any], status: str) -> str:
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    return schema["$ref"].rsplit("/", 1)[-1]


def test_openapi_documents_real_responses_and_error_statuses(tmp_path):
    spec = make_app(tmp_path).openapi()
    for (method, path), model in MAIN.items():
        operation = spec["paths"][path][method]
        success = "201" if (method, path) == ("post", "/api/sessions") else "200"
        assert _ref(operation, success) == model, (method, path)
        assert model in spec["components"]["schemas"]
    # Errors are the envelope with the statuses the server answers; never FastAPI's 422.
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], (method, path)
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    sync = spec["paths"]["/api/message-sync"]["post"]["responses"]
    for status in ("400", "404", "409"):
        assert _ref({"responses": sync}, status) == "ErrorEnvelope", status
    for status in ("401", "403", "429"):   # the security layer's refusals: the same envelope
        assert _ref({"responses": sync}, status) == "ErrorEnvelope", status
    history = spec["paths"]["/api/sessions/{session_id}/history"]["get"]["responses"]
    assert _ref({"responses": history}, "404") == "ErrorEnvelope"
    # Public operations need no key; the others say they can answer 401 and 403.
    assert spec["paths"]["/health"]["get"]["security"] == []
    assert "401" not in spec["paths"]["/health"]["get"]["responses"]
    assert spec["paths"]["/agents/{agent_id}/.well-known/agent-card.json"]["get"]["security"] == []
    assert "security" not in spec["paths"]["/api/keys"]["get"]


def test_real_answers_match_their_documented_models(tmp_path):
    with LiveServer(lambda: make_app(tmp_path)) as server, server.client() as c:
        def check(model: Any, response: Any, status: int = 200) -> dict[str, Any]:
            assert response.status_code == status, response.text
            model.model_validate(response.json())
            return response.json()

        check(rm.MessageSyncResult, c.post("/api/message-sync", json={"content": "hi", "sessionId": "s1"}))
        check(rm.MessageAccepted, c.post("/api/message", json={"content": "hi", "sessionId": "s2"}), 202)
        check(rm.SessionList, c.get("/api/sessions"))
        check(rm.SessionResult, c.post("/api/sessions", json={"sessionId": "s3"}), 201)
        check(rm.SessionDetailResult, c.get("/api/sessions/s1"))
        check(rm.SessionResult, c.patch("/api/sessions/s1", json={"title": "renamed"}))
        history = check(rm.SessionHistory, c.get("/api/sessions/s1/history"))
        assert history["history"]
        check(rm.SessionLoad, c.get("/api/sessions/s1/load"))
        check(rm.CancelResult, c.post("/api/sessions/s1/cancel"))
        check(rm.SessionResult, c.post("/api/sessions/s1/fork"), 201)
        check(rm.LLMCurrent, c.get("/api/llm/current"))
        check(rm.LLMCurrent, c.get("/api/llm/current?sessionId=s1"))
        check(rm.LLMCatalog, c.get("/api/llm/catalog"))
        check(rm.LLMCatalog, c.get("/api/llm/catalog?mode=flat"))
        check(rm.LLMCapabilities, c.get("/api/llm/capabilities?provider=google&model=gemini-2.5-pro"))
        check(rm.LLMSwitched, c.post("/api/llm/switch", json={"provider": "echo", "model": "echo"}))
        check(rm.AgentList, c.get("/api/agents"))
        check(rm.AgentRef, c.get("/api/agents/current"))
        check(rm.Greeting, c.get("/api/greeting"))
        check(rm.ToolList, c.get("/api/tools"))
        check(rm.PromptList, c.get("/api/prompts"))
        check(rm.ResourceList, c.get("/api/resources"))
        check(rm.MCPServerList, c.get("/api/mcp/servers"))
        check(rm.ApprovalList, c.get("/api/approvals?sessionId=s1"))
        check(rm.ResetResult, c.post("/api/reset", json={"sessionId": "s1"}))
        check(rm.SessionDeleted, c.delete("/api/sessions/s3"))
        # Errors: the envelope, with the documented statuses.
        from switchyard.server.schemas import ErrorEnvelope
        ErrorEnvelope.model_validate(c.get("/api/sessions/missing/history").json())
        r = c.post("/api/message-sync", json={"content": 5})
        assert r.status_code == 400 and ErrorEnvelope.model_validate(r.json()).code == "validation_failed"


# --- settings -----------------------------------------------------------------------------

def test_settings_from_env_and_flags():
    env = {"SWITCHYARD_ROUTER_FALLBACK": "general", "SWITCHYARD_ROUTER_SEMANTIC": "on",
           "SWITCHYARD_ROUTER_LLM_MARGIN": "0.3", "DEXTO_BASE_URL": "https://agents.example.com/",
           "SWITCHYARD_MAX_MESSAGE_CHARS": "99", "PORT": "4000", "OPENAI_API_KEY": "sk-x"}
    settings = ServerSettings.from_env(env)
    assert settings.router == RouterSettings(fallback="general", semantic="on", llm_margin=0.3)
    assert settings.base_url == "https://agents.example.com" and settings.port == 4000
    assert settings.max_message_chars == 99 and settings.env["OPENAI_API_KEY"] == "sk-x"
    assert not settings.security.insecure_no_auth
    flagged = ServerSettings.from_env(env, router_fallback="billing", router_semantic="off",
                                      router_llm_margin=0.0, insecure_no_auth=True, port=5000)
    assert flagged.router == RouterSettings(fallback="billing", semantic="off", llm_margin=0.0)
    assert flagged.security.insecure_no_auth and flagged.port == 5000
    assert ServerSettings.from_env({}).public_base_url() == "http://localhost:3001"
    assert ServerSettings.from_env({}).public_base_url("http://127.0.0.1:9/") == "http://127.0.0.1:9"
    with pytest.raises(TypeError):
        settings.env["X"] = "y"  # type: ignore[index]


def test_routes_read_the_settings_not_the_environment(tmp_path, monkeypatch):
    # The process environment says otherwise; the app follows the settings it was given.
    monkeypatch.setenv("SWITCHYARD_MAX_MESSAGE_CHARS", "100000")
    monkeypatch.setenv("SWITCHYARD_BASE_URL", "https://wrong.example.com")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    env = {"SWITCHYARD_MAX_MESSAGE_CHARS": "10", "SWITCHYARD_BASE_URL": "https://agents.example.com",
           "OPENAI_API_KEY": "sk-settings-only-0000"}
    app = make_app(tmp_path, env, router_fallback="echo-agent", router_semantic="off")
    assert app.state.host.routing.fallback == "echo-agent" and app.state.host.routing.semantic == "off"
    with LiveServer(lambda: app) as server, server.client() as c:
        r = c.post("/api/message-sync", json={"content": "x" * 11})
        assert r.status_code == 400 and r.json()["code"] == "content_too_long"
        assert c.get("/.well-known/agent-card.json").json()["url"] == "https://agents.example.com/jsonrpc"
        catalog = c.get("/api/llm/catalog").json()
        assert catalog["providers"]["openai"]["hasApiKey"] is True
        assert "sk-settings-only" not in str(catalog)


def test_health_is_answered_before_the_middleware_only_without_a_host_check(tmp_path):
    dev = make_app(tmp_path)                      # development mode: the Host check covers /health
    assert dev.edge == {}
    prod = make_app(tmp_path, {"SWITCHYARD_ENV": "production", "SWITCHYARD_API_KEY": "k" * 32})
    headers, body = prod.edge["/health"]
    assert body == b"OK" and (b"x-content-type-options", b"nosniff") in headers


REQUEST_PATH_MODULES = [*sorted((SRC / "server" / "api").glob("*.py")),
                        *sorted((SRC / "server" / "protocols").glob("*.py")),
                        SRC / "server" / "routing_glue.py", SRC / "server" / "deps.py"]


@pytest.mark.parametrize("path", REQUEST_PATH_MODULES, ids=lambda p: p.name)
def test_no_environment_reads_in_request_paths(path):
    text = path.read_text()
    if path.name == "mcp_stdio.py":   # a command's entry point, like the runner
        text = text.replace("ServerSettings.from_env(os.environ)", "")
    assert not re.search(r"os\.environ|os\.getenv", text), path


def test_the_runner_hands_flags_down_instead_of_writing_the_environment():
    text = (SRC / "server" / "runner.py").read_text()
    assert not re.search(r"environ\[[^]]+\]\s*=|environ\.(update|setdefault)|putenv", text)
    assert "create_app(host, settings=settings" in text and "serve_stdio(host, settings)" in text


def test_one_session_id_pattern():
    from switchyard.ids import SESSION_ID
    from switchyard.server.protocols import a2a_jsonrpc, mcp_server, openai_compat
    assert a2a_jsonrpc.SESSION_ID is SESSION_ID and mcp_server.SESSION_ID is SESSION_ID
    assert openai_compat.SESSION_ID is SESSION_ID
    hits = [p for p in SRC.rglob("*.py") if "A-Za-z0-9._:@-" in p.read_text() and p.name != "ids.py"]
    assert hits == [], hits


def test_one_redactor_and_one_loopback_check():
    from switchyard.llm.retry import scrub
    from switchyard.logs import redact
    text = "key sk-abcdef1 x-api-key: abcdef1 gsk_abcdefghijklmnop Bearer abc.def.ghi123 mysecret"
    assert scrub(text, ["mysecret"]) == redact(text, ["mysecret"])
    cleaned = redact(text, ["mysecret"])
    for secret in ("abcdef1", "abcdefghijklmnop", "abc.def", "mysecret"):
        assert secret not in cleaned
    assert not re.search(r"ipaddress", (SRC / "server" / "runner.py").read_text())
    assert os.path.exists(SRC / "server" / "security" / "hosts.py")


def test_security_refusals_match_their_documented_model(tmp_path):
    from switchyard.server.schemas import ErrorEnvelope
    app = make_app(tmp_path, {"SWITCHYARD_ENV": "production", "SWITCHYARD_API_KEY": "k" * 32})
    with LiveServer(lambda: app) as server, server.client() as c:
        r = c.get("/api/sessions")
        assert r.status_code == 401
        ErrorEnvelope.model_validate(r.json())
        assert set(r.json()) == {"error", "code", "message"}
        assert c.get("/health").text == "OK"   # public, answered before the middleware here


def test_a_route_registered_around_the_registry_is_refused():
    from switchyard.server import routes as registry
    app = FastAPI()
    registry.prepare(app)

    async def sneaky() -> dict[str, Any]:
        return {}

    app.add_api_route("/api/sneaky", sneaky, methods=["GET"])
    registry.declare_framework_routes(app, public=("/openapi.json", "/docs"))
    with pytest.raises(RuntimeError, match="without a RouteGroup"):
        registry.finish_routes(app)
