"""Modes and their env spellings, fail-closed, header forms, exact public routes, every
protected surface, failure logging without secrets, security headers."""

from __future__ import annotations

import logging

import pytest

from tests.support.security import (
    ROOT,
    ROOT_KEY,
    ScriptedLLM,
    bearer,
    live,
    production,
)

# The seed's 401 body (`error`, `message`) in the one envelope (`code`).
UNAUTHORIZED = {"error": "Unauthorized", "code": "unauthorized",
                "message": "Invalid or missing API key. Provide Authorization: Bearer <api-key> header."}
K = "mode-test-key-8d7c6b5a4f3e2d1c"


# --- modes --------------------------------------------------------------------------------

@pytest.mark.parametrize("env, auth", [
    ({}, False),
    ({"NODE_ENV": "development", "DEXTO_SERVER_API_KEY": K}, False),         # a key alone: no auth
    ({"SWITCHYARD_API_KEY": K}, False),
    ({"DEXTO_SERVER_REQUIRE_AUTH": "false", "DEXTO_SERVER_API_KEY": K}, False),
    ({"NODE_ENV": "production", "DEXTO_SERVER_API_KEY": K}, True),
    ({"SWITCHYARD_ENV": "production", "SWITCHYARD_API_KEY": K}, True),
    ({"NODE_ENV": "production", "SWITCHYARD_API_KEY": K}, True),
    ({"SWITCHYARD_ENV": "production", "DEXTO_SERVER_API_KEY": K}, True),
    ({"DEXTO_SERVER_REQUIRE_AUTH": "true", "DEXTO_SERVER_API_KEY": K}, True),
    ({"SWITCHYARD_REQUIRE_AUTH": "true", "SWITCHYARD_API_KEY": K}, True),
    ({"SWITCHYARD_REQUIRE_AUTH": "1", "NODE_ENV": "development", "SWITCHYARD_API_KEY": K}, True),
])
def test_modes_and_env_spellings(monkeypatch, env, auth):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with live() as server, server.client() as c:
        anonymous = c.get("/api/sessions")
        keyed = c.get("/api/sessions", headers=bearer(K))
        card = c.get("/.well-known/agent-card.json").json()
    if auth:
        assert anonymous.status_code == 401 and anonymous.json() == UNAUTHORIZED
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert keyed.status_code == 200
        assert card["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    else:
        assert anonymous.status_code == 200 and keyed.status_code == 200
        assert "securitySchemes" not in card


@pytest.mark.parametrize("env, named", [
    ({"NODE_ENV": "production"}, "NODE_ENV"),
    ({"SWITCHYARD_ENV": "production"}, "SWITCHYARD_ENV"),
    ({"DEXTO_SERVER_REQUIRE_AUTH": "true"}, "DEXTO_SERVER_REQUIRE_AUTH"),
    ({"SWITCHYARD_REQUIRE_AUTH": "true"}, "SWITCHYARD_REQUIRE_AUTH"),
])
def test_fail_closed_without_a_key(monkeypatch, caplog, env, named):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.INFO)
    with live() as server, server.client() as c:
        protected = c.get("/api/sessions")
        with_some_key = c.post("/api/message-sync", headers=bearer("anything-at-all"), json={"content": "hi"})
        health = c.get("/health")
    for response in (protected, with_some_key):
        assert response.status_code == 500
        body = response.json()
        assert body["error"] == "Configuration Error" and body["code"] == "auth_misconfigured"
        assert named in body["message"] and "DEXTO_SERVER_API_KEY" in body["message"]
    assert health.status_code == 200 and health.text == "OK"
    assert health.headers["x-content-type-options"] == "nosniff" and health.headers["x-frame-options"] == "DENY"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "switchyard.security"]
    assert errors and named in errors[0].getMessage()


# --- header forms -------------------------------------------------------------------------

def _one_off(key: str) -> str:
    last = key[-1]
    return key[:-1] + ("x" if last != "x" else "y")


@pytest.mark.parametrize("headers, expected", [
    ([], 401),
    ([("Authorization", "")], 401),
    ([("Authorization", "Bearer")], 401),
    ([("Authorization", f"Basic {ROOT_KEY}")], 401),
    ([("Authorization", ROOT_KEY)], 401),                                   # no scheme
    ([("Authorization", f"Token {ROOT_KEY}")], 401),
    ([("Authorization", f"Bearer {ROOT_KEY}"), ("Authorization", f"Bearer {ROOT_KEY}")], 401),
    ([("Authorization", f"Bearer {ROOT_KEY} {ROOT_KEY}")], 401),
    ([("Authorization", f"Bearer {ROOT_KEY} extra")], 401),
    ([("Authorization", f"Bearer{ROOT_KEY}")], 401),
    ([("Authorization", f"Bearer {_one_off(ROOT_KEY)}")], 401),
    ([("Authorization", f"Bearer {ROOT_KEY[:-1]}")], 401),
    ([("Authorization", f"Bearer {ROOT_KEY}x")], 401),
    ([("Authorization", f"Bearer {ROOT_KEY.upper()}")], 401),
    ([("Authorization", f"Bearer {ROOT_KEY}")], 200),
    ([("Authorization", f"bearer {ROOT_KEY}")], 200),                       # scheme: any case
    ([("Authorization", f"BEARER {ROOT_KEY}")], 200),
    ([("Authorization", f"Bearer   {ROOT_KEY}")], 200),                     # 1*SP per RFC 7235
    ([("Authorization", f"Bearer\t{ROOT_KEY}")], 200),
])
def test_header_forms(monkeypatch, headers, expected):
    production(monkeypatch, SWITCHYARD_AUTH_FAILURE_LIMIT="off")
    with live() as server, server.client() as c:
        response = c.get("/api/sessions", headers=headers)
    assert response.status_code == expected, (headers, response.text)
    if expected == 401:
        assert response.json() == UNAUTHORIZED


def _raw_get(port: int, header_lines: list[str]) -> int:
    """A GET sent byte for byte (clients refuse some of these header forms)."""
    import socket
    request = "GET /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    request += "".join(line + "\r\n" for line in header_lines) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1])


def test_whitespace_forms_on_the_wire(monkeypatch):
    production(monkeypatch, SWITCHYARD_AUTH_FAILURE_LIMIT="off")
    with live() as server:
        port = server.port
        assert _raw_get(port, ["Authorization: Bearer "]) == 401
        assert _raw_get(port, ["Authorization:    "]) == 401
        assert _raw_get(port, [f"Authorization: Bearer {ROOT_KEY[:10]} {ROOT_KEY[10:]}"]) == 401
        assert _raw_get(port, [f"Authorization: Bearer {ROOT_KEY}", f"authorization: Bearer {ROOT_KEY}"]) == 401
        assert _raw_get(port, [f"Authorization: Bearer {ROOT_KEY}", "Authorization: Basic eDp5"]) == 401
        # Optional whitespace around a header value is not part of it (RFC 9110 OWS).
        assert _raw_get(port, [f"Authorization:   Bearer {ROOT_KEY}   "]) == 200


def test_key_only_from_the_authorization_header(monkeypatch):
    production(monkeypatch)
    with live() as server, server.client() as c:
        for params in ({"api_key": ROOT_KEY}, {"apiKey": ROOT_KEY}, {"key": ROOT_KEY},
                       {"token": ROOT_KEY}, {"access_token": ROOT_KEY}, {"authorization": f"Bearer {ROOT_KEY}"}):
            assert c.get("/api/sessions", params=params).status_code == 401
        assert c.get("/api/sessions", headers={"Cookie": f"api_key={ROOT_KEY}; token={ROOT_KEY}"}).status_code == 401
        assert c.get("/api/sessions", headers={"X-API-Key": ROOT_KEY}).status_code == 401
        assert c.get("/api/sessions", headers={"Proxy-Authorization": f"Bearer {ROOT_KEY}"}).status_code == 401


# --- public routes: exact -----------------------------------------------------------------

def test_public_routes_are_exact(monkeypatch):
    production(monkeypatch)
    with live() as server, server.client() as c:
        assert c.get("/health").status_code == 200
        assert c.get("/.well-known/agent-card.json").status_code == 200
        assert c.get("/openapi.json").status_code == 200
        assert c.get("/docs").status_code == 200
        # The web UI's files (its API calls are authenticated like any client's).
        assert c.get("/").status_code == 200 and c.get("/ui/app.css").status_code == 200
        for path in ("/uix", "/ui.js", "/index.html", "/ui/%2e%2e/api/keys", "/healthz", "/health/x", "/health/", "/HEALTH", "/health.json",
                     "/.well-known/agent-card.jsonx", "/.well-known/agent-card.json/x", "/.well-known/",
                     "/openapi.json/x", "/openapi.jsonx", "/docs/oauth2-redirect", "/docsx", "/redoc"):
            response = c.get(path)
            assert response.status_code == 401, path
            assert response.json() == UNAUTHORIZED
        # Public means GET (and HEAD) only: another method there is 405 (issue 17.11).
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            assert c.request(method, "/health").status_code == 405, method
            assert c.request(method, "/ui/app.css").status_code == 405, method
        # The OpenAPI document says so too.
        spec = c.get("/openapi.json").json()
        assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


# --- every protected surface --------------------------------------------------------------

SURFACES = [
    ("GET", "/api/sessions"), ("POST", "/api/sessions"), ("GET", "/api/llm/current"),
    ("GET", "/api/greeting"), ("POST", "/api/message"), ("POST", "/api/message-sync"),
    ("POST", "/api/message-stream"),                                  # SSE
    ("GET", "/api/sessions/some-session/events"),                      # SSE re-attach
    ("POST", "/jsonrpc"), ("GET", "/jsonrpc"),
    ("POST", "/v1/message"), ("GET", "/v1/tasks"), ("POST", "/v1/chat/completions"), ("GET", "/v1/models"),
    ("POST", "/mcp"), ("GET", "/mcp"), ("DELETE", "/mcp"),
    ("GET", "/api/keys"), ("GET", "/api/audit"), ("POST", "/api/llm/switch"),
    ("GET", "/api/not-a-route-yet"), ("POST", "/some/future/route"),
]   # POST / is 405: `/` is a public read (the web UI), see test_public_routes_are_exact


def test_every_surface_is_protected(monkeypatch):
    production(monkeypatch, SWITCHYARD_AUTH_FAILURE_LIMIT="off")
    body = {"content": "hello"}
    with live() as server, server.client() as c:
        for method, path in SURFACES:
            response = c.request(method, path, json=body if method == "POST" else None)
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.json() == UNAUTHORIZED
        for method, path in SURFACES:
            response = c.request(method, path, headers=ROOT, json=body if method == "POST" else None)
            assert response.status_code not in (401, 403), (method, path, response.status_code)


def test_sse_stream_with_a_key(monkeypatch):
    production(monkeypatch)
    with live(ScriptedLLM("streamed words")) as server, server.client() as c:
        with c.stream("POST", "/api/message-stream", headers=ROOT, json={"content": "hi"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            text = "".join(response.iter_text())
        assert "streamed words" in text and "run:complete" in text
        with c.stream("POST", "/api/message-stream", json={"content": "hi"}) as response:
            assert response.status_code == 401


# --- logging ------------------------------------------------------------------------------

def test_failed_attempts_are_logged_without_the_key(monkeypatch, caplog):
    production(monkeypatch)
    caplog.set_level(logging.DEBUG)
    wrong = _one_off(ROOT_KEY)
    fake_sy = "sy_" + "A" * 32 + "_abcdef"
    with live() as server, server.client() as c:
        c.get("/api/sessions", headers={"Origin": "http://localhost:5173", "User-Agent": "probe/1.0"})
        c.get("/api/sessions?api_key=" + wrong, headers={"Authorization": f"Bearer {wrong}"})
        c.get("/api/llm/current", headers={"Authorization": f"Bearer {fake_sy}"})
        c.get("/api/sessions", headers=ROOT)
        # An error body that would echo a secret-looking value is redacted.
        leaked = "sk-" + "abcdefghij" * 3
        not_found = c.get(f"/api/sessions/{leaked}", headers=ROOT)
    assert not_found.status_code == 404 and leaked not in not_found.text
    attempts = [r for r in caplog.records if "Unauthorized API access attempt" in r.getMessage()]
    assert len(attempts) == 3 and all(r.levelno == logging.WARNING for r in attempts)
    first = attempts[0].getMessage()
    for part in ("path='/api/sessions'", "hasKey=False", "origin='http://localhost:5173'",
                 "userAgent='probe/1.0'", "client=127.0.0.1"):
        assert part in first
    assert "hasKey=True" in attempts[1].getMessage()
    # Everything the server logged (the test's own HTTP client logs its URLs; that is not ours).
    everything = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("switchyard", "uvicorn")))
    for secret in (ROOT_KEY, wrong, fake_sy, ROOT_KEY[:16]):
        assert secret not in everything


def test_redaction_of_log_lines():
    from switchyard.logs import RedactingFilter, redact
    line = redact("Authorization: Bearer abcdefgh12345678 apiKey=sk-abcdefghijklmnop0123 "
                  "sy_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345_abc123 user wrote bob@example.com")
    assert "abcdefgh12345678" not in line and "sk-abcdefghijklmnop0123" not in line
    assert "sy_ABCDEFGHIJ" not in line
    assert "bob@example.com" in line               # user content is not redacted
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key %s", ("sk-" + "z" * 30,), None)
    RedactingFilter().filter(record)
    assert "z" * 30 not in record.getMessage()


def test_root_key_literal_is_redacted_from_logs(monkeypatch):
    from switchyard.logs import redact
    production(monkeypatch)
    with live():
        pass
    assert ROOT_KEY not in redact(f"something printed {ROOT_KEY} by accident")


# --- security headers ---------------------------------------------------------------------

def test_security_headers_on_every_response(monkeypatch):
    production(monkeypatch)
    with live() as server, server.client() as c:
        responses = [c.get("/health"), c.get("/api/sessions"), c.get("/api/sessions", headers=ROOT),
                     c.get("/api/nope", headers=ROOT), c.get("/openapi.json"),
                     c.options("/api/sessions", headers={"Origin": "http://localhost:3000",
                                                         "Access-Control-Request-Method": "GET"})]
    for response in responses:
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
