"""Safe network defaults: Host checks (DNS rebinding), Origin checks and CORS (preflight
before auth), and the serve command's refusal to bind a public address without a key."""

from __future__ import annotations

import argparse
import logging

import pytest

from switchyard.server.runner import check_bind, serve, server_settings
from tests.support.security import ROOT, ROOT_KEY, live, production


def _get(c, path: str, **headers: str):
    return c.get(path, headers=headers)


def test_development_rejects_non_loopback_host(monkeypatch):
    with live() as server, server.client() as c:
        port = server.port
        for host in ("evil.example", f"evil.example:{port}", "attacker.test", "192.168.1.20",
                     "localhost.evil.example", "127.0.0.1.nip.io"):
            response = _get(c, "/api/sessions", Host=host)
            assert response.status_code == 403, host
            assert response.json()["code"] == "host_not_allowed"
            assert response.headers["x-content-type-options"] == "nosniff"
        assert _get(c, "/health", Host="evil.example").status_code == 403
        for host in ("localhost", f"localhost:{port}", "127.0.0.1", f"127.0.0.1:{port}", f"[::1]:{port}",
                     "LOCALHOST", "127.0.0.2"):
            assert _get(c, "/api/sessions", Host=host).status_code == 200, host


def test_allowed_hosts_and_insecure_mode(monkeypatch):
    monkeypatch.setenv("SWITCHYARD_ALLOWED_HOSTS", "devbox.lan, other.lan")
    with live() as server, server.client() as c:
        assert _get(c, "/api/sessions", Host="devbox.lan:3001").status_code == 200
        assert _get(c, "/api/sessions", Host="evil.example").status_code == 403
    monkeypatch.delenv("SWITCHYARD_ALLOWED_HOSTS")
    monkeypatch.setenv("SWITCHYARD_INSECURE_NO_AUTH", "1")       # what serve --insecure-no-auth sets
    with live() as server, server.client() as c:
        assert _get(c, "/api/sessions", Host="10.0.0.5:3001").status_code == 200


def test_production_does_not_check_host(monkeypatch):
    production(monkeypatch)
    with live() as server, server.client() as c:
        assert c.get("/api/sessions", headers={**ROOT, "Host": "agents.example.com"}).status_code == 200
        assert c.get("/api/sessions", headers={"Host": "agents.example.com"}).status_code == 401


def test_origins(monkeypatch):
    monkeypatch.setenv("SWITCHYARD_ALLOWED_ORIGINS", "https://app.example.com")
    monkeypatch.setenv("DEXTO_ALLOWED_ORIGINS", "https://ui.example.org/")
    with live() as server, server.client() as c:
        for origin in ("http://localhost:5173", "http://127.0.0.1:3000", "http://[::1]:8080",
                       "https://app.example.com", "https://ui.example.org", f"http://127.0.0.1:{server.port}"):
            response = _get(c, "/api/sessions", Origin=origin)
            assert response.status_code == 200, origin
            assert response.headers["access-control-allow-origin"] == origin
            assert response.headers["access-control-allow-credentials"] == "true"
            assert "Origin" in response.headers["vary"]
        for origin in ("https://evil.example", "http://app.example.com", "https://app.example.com.evil.io",
                       "null", "file://", "http://localhost.evil.example", "not a url"):
            response = _get(c, "/api/sessions", Origin=origin)
            assert response.status_code == 403, origin
            assert response.json()["code"] == "origin_not_allowed"
            assert "access-control-allow-origin" not in response.headers
            assert c.post("/api/message-sync", headers={"Origin": origin}, json={"content": "x"}).status_code == 403
        # Public routes are served, without CORS headers for a foreign origin.
        health = _get(c, "/health", Origin="https://evil.example")
        assert health.status_code == 200 and "access-control-allow-origin" not in health.headers
        # No Origin (curl, servers): no CORS headers, request served.
        plain = c.get("/api/sessions")
        assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers


def test_preflight_is_answered_before_auth(monkeypatch):
    production(monkeypatch)
    with live() as server, server.client() as c:
        preflight = c.options("/api/message-sync", headers={
            "Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:5173"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "Authorization" in preflight.headers["access-control-allow-headers"]
        refused = c.options("/api/message-sync", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
        # The browser can read the 401 (CORS headers present) and the RateLimit headers on success.
        unauthorized = c.post("/api/message-sync", headers={"Origin": "http://localhost:5173"}, json={"content": "x"})
        assert unauthorized.status_code == 401
        assert unauthorized.headers["access-control-allow-origin"] == "http://localhost:5173"
        ok = c.get("/api/sessions", headers={**ROOT, "Origin": "http://localhost:5173"})
        assert ok.status_code == 200 and "RateLimit-Remaining" in ok.headers["access-control-expose-headers"]
        # An OPTIONS that is not a preflight is an ordinary protected request.
        assert c.options("/api/sessions").status_code == 401


# --- serve: safe bind ----------------------------------------------------------------------

def _args(host: str, insecure: bool = False) -> argparse.Namespace:
    return argparse.Namespace(host=host, insecure_no_auth=insecure, mcp_stdio=False, port=0,
                              agent=None, agents=None, default_agent=None, shutdown_grace=1.0)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.5"])
def test_loopback_binds_are_fine_without_a_key(host):
    assert check_bind(_args(host), {}) is None


@pytest.mark.parametrize("env", [
    {},
    {"SWITCHYARD_API_KEY": ROOT_KEY},                          # a key, but auth is off
    {"SWITCHYARD_ENV": "production"},                          # auth on, but no key
])
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "myhost.lan"])
def test_public_bind_without_auth_is_refused(capsys, env, host):
    assert check_bind(_args(host), dict(env)) == 2
    err = capsys.readouterr().err
    assert f"refusing to bind {host}" in err and "--insecure-no-auth" in err and "SWITCHYARD_API_KEY" in err
    assert ROOT_KEY not in err


def test_public_bind_with_auth_is_allowed():
    assert check_bind(_args("0.0.0.0"), {"NODE_ENV": "production", "DEXTO_SERVER_API_KEY": ROOT_KEY}) is None
    assert check_bind(_args("0.0.0.0"), {"SWITCHYARD_REQUIRE_AUTH": "true", "SWITCHYARD_API_KEY": ROOT_KEY}) is None


def test_insecure_no_auth_warns_loudly(caplog):
    caplog.set_level(logging.WARNING)
    env: dict[str, str] = {}
    assert check_bind(_args("0.0.0.0", insecure=True), env) is None
    # The flag reaches the Host check through the server's settings, not the environment.
    assert server_settings(_args("0.0.0.0", insecure=True), env).security.insecure_no_auth
    assert env == {}
    assert any("WITHOUT AUTHENTICATION" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_serve_refuses_before_loading_anything(monkeypatch, capsys):
    from switchyard.server import runner

    def boom(*_a, **_k):
        raise AssertionError("must not load agents when refusing")
    monkeypatch.setattr(runner, "build_host", boom)
    assert serve(_args("0.0.0.0")) == 2
    assert "refusing to bind 0.0.0.0" in capsys.readouterr().err
