"""The API tells the truth (issues 17.11-12, 18.9-10): one error envelope, the right scope for
POST /api/route, 405 on public paths, strict Host parsing, configured public origins, the
documented routes answering, and clear refusals instead of silent or leaky ones.

Each test drives a real server on loopback (the scripted in-process model)."""

from __future__ import annotations

import socket

from tests.support.security import ROOT, bearer, create_key, live, production

ENVELOPE_KEYS = {"error", "code", "message"}


def envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert ENVELOPE_KEYS <= set(body) <= ENVELOPE_KEYS | {"details"}, body
    assert body["code"] == code, body
    assert isinstance(body["error"], str) and body["message"], body
    return body


def raw_request(port: int, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are (httpx would fix the Host header) and read the status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        while True:   # the whole answer (the servers close after it: Connection: close)
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]), data


# --- one envelope everywhere (18.9) -----------------------------------------------------------

def test_every_error_answer_has_one_envelope_and_the_seeds_401_fields(monkeypatch):
    production(monkeypatch, SWITCHYARD_MAX_BODY_BYTES="2000")
    with live() as server, server.client() as c:
        reader = bearer(create_key(c, "reader", ["read"]))
        # The seed's 401 body fields, unchanged, inside the envelope.
        body = envelope(c.get("/api/sessions"), 401, "unauthorized")
        assert body["error"] == "Unauthorized"
        assert body["message"] == ("Invalid or missing API key. Provide Authorization: Bearer "
                                   "<api-key> header.")
        body = envelope(c.post("/api/message-sync", headers=reader, json={"content": "x"}), 403,
                        "insufficient_scope")
        assert body["error"] == "Forbidden" and body["details"] == {"requiredScope": "chat"}
        assert envelope(c.get("/api/sessions/nope", headers=ROOT), 404, "session_not_found")["error"] == "Not Found"
        assert envelope(c.post("/api/message-sync", headers=ROOT, json={}), 400,
                        "validation_failed")["error"] == "Bad Request"
        envelope(c.post("/api/message-sync", headers={**ROOT, "content-type": "application/json"},
                        content=b"{"), 400, "invalid_json")
        envelope(c.get("/api/no-such-route", headers=ROOT), 404, "not_found")
        envelope(c.post("/api/message-sync", headers=ROOT, json={"content": "x" * 5000}), 413,
                 "payload_too_large")
        envelope(c.get("/api/sessions", headers={**ROOT, "Origin": "https://evil.example"}), 403,
                 "origin_not_allowed")


def test_a_body_that_is_not_json_is_415_naming_the_content_type(monkeypatch):
    # Issue 18.10: a form post was reported as a body validation error.
    with live() as server, server.client() as c:
        form = c.post("/api/message-sync", data={"content": "hi"})
        body = envelope(form, 415, "unsupported_media_type")
        assert "application/x-www-form-urlencoded" in body["message"]
        envelope(c.post("/api/message-sync", content=b'{"content": "hi"}',
                        headers={"content-type": "text/plain"}), 415, "unsupported_media_type")
        envelope(c.post("/v1/chat/completions", content=b"{}"), 415, "unsupported_media_type")
        ok = c.post("/api/message-sync", content=b'{"content": "hi"}',
                    headers={"content-type": "application/json; charset=utf-8"})
        assert ok.status_code == 200, ok.text
        assert c.post("/api/sessions").status_code == 201    # no body: nothing to check


# --- scopes and methods (17.11) ---------------------------------------------------------------

def test_route_needs_the_chat_scope_not_admin(monkeypatch):
    production(monkeypatch)
    with live() as server, server.client() as c:
        chat = bearer(create_key(c, "chatter", ["chat"]))
        read = bearer(create_key(c, "reader", ["read"]))
        assert c.post("/api/route", headers=chat, json={"content": "hello"}).status_code == 200
        body = envelope(c.post("/api/route", headers=read, json={"content": "hello"}), 403, "insufficient_scope")
        assert body["details"]["requiredScope"] == "chat"


def test_other_methods_on_public_paths_are_405_not_401(monkeypatch):
    production(monkeypatch)
    with live() as server, server.client() as c:
        for method in ("POST", "PUT", "DELETE", "TRACE", "PATCH"):
            for path in ("/health", "/.well-known/agent-card.json", "/openapi.json",
                         "/agents/sec-agent/.well-known/agent-card.json"):
                response = c.request(method, path)
                envelope(response, 405, "method_not_allowed")
                assert response.headers["allow"] == "GET, HEAD", (method, path)
        assert c.get("/health").status_code == 200
        # A protected path still asks for a key first, whatever the method.
        envelope(c.request("TRACE", "/api/sessions"), 401, "unauthorized")


# --- strict Host, public origins (17.12) ---------------------------------------------------

def test_development_parses_the_host_header_strictly(monkeypatch):
    with live() as server:
        port = server.port
        for host in (f"127.0.0.1:{port}@evil.com", "127.0.0.1@evil.com", "localhost:99999",
                     "localhost:80:80", "local host", "[::1", "user@localhost", "localhost/x"):
            status, data = raw_request(port, f"GET /api/sessions HTTP/1.1\r\nHost: {host}\r\n"
                                             "Connection: close\r\n\r\n".encode())
            assert status in (400, 403), (host, data[:200])
            assert b"host_" in data, host
        two = raw_request(port, (f"GET /api/sessions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                                 "Host: evil.example\r\nConnection: close\r\n\r\n").encode())
        assert two[0] == 400, two[1][:300]
        no_host = raw_request(port, b"GET /api/sessions HTTP/1.0\r\n\r\n")
        assert no_host[0] == 400 and b"host_invalid" in no_host[1], no_host[1][:300]
        fine = raw_request(port, f"GET /api/sessions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                                 "Connection: close\r\n\r\n".encode())
        assert fine[0] == 200


def test_production_trusts_configured_public_origins_not_the_host_header(monkeypatch):
    production(monkeypatch, SWITCHYARD_PUBLIC_ORIGINS="https://agents.example.com")
    with live() as server, server.client() as c:
        # An attacker's page sets whatever Host it likes on a request it makes (DNS rebinding
        # or a proxy that forwards Host): "same origin as Host" is no proof in production.
        forged = c.get("/api/sessions", headers={**ROOT, "Host": "evil.example",
                                                 "Origin": "https://evil.example"})
        envelope(forged, 403, "origin_not_allowed")
        published = c.get("/api/sessions", headers={**ROOT, "Host": "agents.example.com",
                                                    "Origin": "https://agents.example.com"})
        assert published.status_code == 200
        assert published.headers["access-control-allow-origin"] == "https://agents.example.com"


# --- the document and the server agree on what exists (18.10) ------------------------------

def test_the_mcp_endpoints_are_in_the_openapi_document(monkeypatch):
    with live() as server, server.client() as c:
        paths = c.get("/openapi.json").json()["paths"]
        for path in ("/mcp", "/agents/{agent_id}/mcp"):
            assert set(paths[path]) == {"get", "post", "delete"}, path
            assert "Mcp-Session-Id" in {p["name"] for p in paths[path]["post"]["parameters"]}
        assert "get" in paths["/api/mcp/servers/{server_id}"]
        # And /mcp answers as documented: a JSON-RPC initialize gets a 200.
        init = c.post("/mcp", headers={"accept": "application/json, text/event-stream"}, json={
            "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-03-26", "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"}}})
        assert init.status_code == 200, init.text


def test_openai_tools_in_a_request_are_refused_not_ignored(monkeypatch):
    with live() as server, server.client() as c:
        tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
        for name, value in (("tools", [tool]), ("functions", [tool["function"]])):
            r = c.post("/v1/chat/completions", json={"model": "sec-agent", name: value,
                                                     "messages": [{"role": "user", "content": "hi"}]})
            assert r.status_code == 400, r.text
            error = r.json()["error"]
            assert (error["param"], error["code"]) == (name, "unsupported_parameter")
            assert "not supported" in error["message"]
        empty = c.post("/v1/chat/completions", json={"model": "sec-agent", "tools": [],
                                                     "messages": [{"role": "user", "content": "hi"}]})
        assert empty.status_code == 200, empty.text


def test_validation_errors_name_fields_without_pydantic_internals(monkeypatch):
    with live() as server, server.client() as c:
        bodies = [{"content": 5}, {"content": [{"type": "text"}]}, {"content": [{"type": "video"}]},
                  {"content": [5]}, {"content": "x", "sessionId": "bad id!"}, {"content": None}]
        for body in bodies:
            r = c.post("/api/message-sync", json=body)
            error = envelope(r, 400, "validation_failed")
            text = r.text
            for leak in ("tagged-union", "errors.pydantic.dev", "list[", "function-after", "TextPart",
                         "'str'", ".str", "str.", "input_value"):
                assert leak not in text, (body, leak, text)
            assert error["message"].startswith(error["details"]["issues"][0]["path"])
        r = c.post("/api/message-sync", json={"content": [{"type": "text"}]})
        assert r.json()["details"]["issues"] == [{"path": "content[0].text", "message": "field required"}]
        r = c.post("/api/message-sync", json={"content": 5})
        assert r.json()["details"]["issues"][0]["path"] == "content"
        r = c.post("/api/mcp/servers", json={"name": "x", "config": {"type": "stdio", "command": 5,
                                                                     "env": {"TOKEN": "sk-secret-value"}}})
        assert r.status_code == 400 and "sk-secret-value" not in r.text, r.text
        assert "errors.pydantic.dev" not in r.text and "input" not in r.json()["details"]["issues"][0]
