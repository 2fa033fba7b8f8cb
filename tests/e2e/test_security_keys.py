"""Named keys: format, hashing, CLI and API create/list/revoke/rotate, expiry, revocation
across processes without a restart, scopes, session ownership across keys, the audit log."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from switchyard.server.security.keys import (
    ApiKeyStore,
    generate_key,
    key_hash,
    looks_like_key,
    parse_duration,
)
from switchyard.server.security.keys_cli import keys_main
from tests.support.security import (
    ROOT,
    audit_entries,
    bearer,
    create_key,
    live,
    production,
    read_audit,
)


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = keys_main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- the key format -----------------------------------------------------------------------

def test_key_format_and_checksum():
    keys = {generate_key() for _ in range(50)}
    assert len(keys) == 50
    for key in keys:
        assert key.startswith("sy_") and len(key) == 3 + 32 + 1 + 6
        assert looks_like_key(key)
    key = next(iter(keys))
    body = key[3:35]
    flipped = "sy_" + ("A" if body[0] != "A" else "B") + body[1:] + key[35:]
    assert not looks_like_key(flipped)                       # the checksum catches one change
    assert not looks_like_key(key[:-1] + ("0" if key[-1] != "0" else "1"))
    assert not looks_like_key("sk-" + key[3:]) and not looks_like_key(key + "x")
    assert parse_duration("30d") == 30 * 86400 and parse_duration("1h30m") == 5400
    from switchyard.errors import RequestError
    with pytest.raises(RequestError):
        parse_duration("soon")


def test_keys_are_stored_only_as_hashes(monkeypatch):
    production(monkeypatch)
    with live() as server, server.client() as c:
        secret = create_key(c, "hashed", ["read"])
        listing = c.get("/api/keys", headers=ROOT)
    assert secret not in listing.text and key_hash(secret) not in listing.text
    db = Path(os.environ["SWITCHYARD_HOME"]) / "server.db"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select * from api_keys").fetchall()
        dump = "\n".join(conn.iterdump())
    assert len(rows) == 1
    assert secret not in dump and secret[3:35] not in dump
    assert hashlib.sha256(secret.encode()).hexdigest() in dump


# --- CLI ----------------------------------------------------------------------------------

def test_cli_create_list_revoke_rotate(monkeypatch, capsys):
    production(monkeypatch)
    code, out, err = _cli(capsys, "create", "--name", "bot", "--scope", "chat", "--expires", "30d")
    assert code == 0
    secret = out.strip()
    assert looks_like_key(secret) and "shown only once" in err
    code, out, _ = _cli(capsys, "create", "--name", "reader", "--scope", "read,chat", "--json")
    reader = json.loads(out)
    assert reader["apiKey"]["scopes"] == ["read", "chat"]
    assert _cli(capsys, "create", "--name", "bot", "--scope", "chat")[0] == 1        # duplicate
    assert _cli(capsys, "create", "--name", "x", "--scope", "superuser")[0] == 1      # bad scope
    assert _cli(capsys, "create", "--name", "root", "--scope", "chat")[0] == 1        # reserved

    code, out, _ = _cli(capsys, "list")
    assert code == 0 and "bot" in out and "reader" in out and secret not in out and secret[:9] in out
    code, out, _ = _cli(capsys, "list", "--json")
    listed = json.loads(out)["keys"]
    assert {k["name"] for k in listed} == {"bot", "reader"}
    assert all(k["expiresAt"] for k in listed if k["name"] == "bot")

    with live() as server, server.client() as c:
        assert c.get("/api/sessions", headers=bearer(secret)).status_code == 200
        # Rotate with a grace period: both keys work.
        code, out, _ = _cli(capsys, "rotate", "bot", "--grace", "1h", "--json")
        rotated = json.loads(out)
        new_secret = rotated["key"]
        assert new_secret != secret and rotated["previous"]["status"] == "rotating"
        assert c.get("/api/sessions", headers=bearer(new_secret)).status_code == 200
        assert c.get("/api/sessions", headers=bearer(secret)).status_code == 200
        # Revoke by name, from "another process": refused without a restart (within the key
        # cache's lifetime, under a second: tests/unit/test_key_cache.py checks that on a clock).
        assert _cli(capsys, "revoke", "bot")[0] == 0
        revoked_at = time.monotonic()
        statuses = set()
        while time.monotonic() - revoked_at < 15.0:
            statuses = {c.get("/api/sessions", headers=bearer(k)).status_code for k in (secret, new_secret)}
            if statuses == {401}:
                break
            time.sleep(0.05)
        assert statuses == {401}
    assert _cli(capsys, "revoke", "bot")[0] == 1                                      # nothing left
    actions = [(e["action"], e["details"]["via"]) for e in read_audit(action="key.*")]
    assert ("key.create", "cli") in actions and ("key.rotate", "cli") in actions and ("key.revoke", "cli") in actions
    assert not any(s in json.dumps(read_audit()) for s in (secret, new_secret, reader["key"]))


# --- API ----------------------------------------------------------------------------------

def test_api_create_list_revoke_rotate(monkeypatch):
    production(monkeypatch, SWITCHYARD_AUTH_FAILURE_LIMIT="off")
    with live() as server, server.client() as c:
        created = c.post("/api/keys", headers=ROOT, json={"name": "svc", "scopes": ["read", "chat"],
                                                          "expiresIn": "7d", "rateLimit": "100/minute"})
        assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
        body = created.json()
        secret = body["key"]
        assert looks_like_key(secret) and body["apiKey"]["prefix"] == secret[:9]
        assert body["apiKey"]["expiresAt"] and body["apiKey"]["rateLimit"] == "100/minute"
        assert c.post("/api/keys", headers=ROOT, json={"name": "svc", "scopes": ["read"]}).status_code == 409
        assert c.post("/api/keys", headers=ROOT, json={"name": "bad", "scopes": ["owner"]}).status_code == 400
        assert c.post("/api/keys", headers=ROOT, json={"name": "bad", "scopes": ["read"],
                                                       "rateLimit": "lots"}).status_code == 400

        listing = c.get("/api/keys", headers=ROOT).json()["keys"]
        assert [k["name"] for k in listing] == ["svc"] and secret not in json.dumps(listing)
        assert c.get("/api/sessions", headers=bearer(secret)).status_code == 200

        # Rotation without grace: the old key stops at once, the new one works.
        rotated = c.post("/api/keys/svc/rotate", headers=ROOT, json={})
        assert rotated.status_code == 201
        new_secret = rotated.json()["key"]
        assert c.get("/api/sessions", headers=bearer(secret)).status_code == 401
        assert c.get("/api/sessions", headers=bearer(new_secret)).status_code == 200
        assert rotated.json()["apiKey"]["scopes"] == ["read", "chat"]

        # Rotation with a 1 s grace: the old key works, then stops.
        graced = c.post("/api/keys/svc/rotate", headers=ROOT, json={"grace": "1s"}).json()["key"]
        assert c.get("/api/sessions", headers=bearer(new_secret)).status_code == 200
        assert c.get("/api/sessions", headers=bearer(graced)).status_code == 200
        time.sleep(1.2)
        assert c.get("/api/sessions", headers=bearer(new_secret)).status_code == 401
        assert c.get("/api/sessions", headers=bearer(graced)).status_code == 200

        # Revocation over the API takes effect on the next request.
        assert c.delete("/api/keys/svc", headers=ROOT).json() == {"revoked": True, "name": "svc", "count": 1}
        assert c.get("/api/sessions", headers=bearer(graced)).status_code == 401
        assert c.delete("/api/keys/svc", headers=ROOT).status_code == 404
        statuses = {k["status"] for k in c.get("/api/keys", headers=ROOT).json()["keys"]}
        assert statuses == {"revoked", "expired"}
        assert [k["name"] for k in c.get("/api/keys?active=true", headers=ROOT).json()["keys"]] == []
        reasons = [e["details"]["reason"] for e in audit_entries(c, action="auth.failure")]
        assert "revoked" in reasons and "expired" in reasons


def test_expired_key(monkeypatch):
    production(monkeypatch)
    with live() as server, server.client() as c:
        secret = create_key(c, "short-lived", ["read"], expiresIn="1s")
        assert c.get("/api/sessions", headers=bearer(secret)).status_code == 200
        time.sleep(1.1)
        response = c.get("/api/sessions", headers=bearer(secret))
        assert response.status_code == 401
        assert response.json()["error"] == "Unauthorized"
        failure = audit_entries(c, action="auth.failure")[0]
        assert failure["details"]["reason"] == "expired"


def test_valid_looking_unknown_key(monkeypatch):
    production(monkeypatch)
    with live() as server, server.client() as c:
        assert c.get("/api/sessions", headers=bearer(generate_key())).status_code == 401


# --- scopes -------------------------------------------------------------------------------

def test_scope_denials(monkeypatch):
    production(monkeypatch)
    with live() as server, server.client() as c:
        read = bearer(create_key(c, "reader", ["read"]))
        chat = bearer(create_key(c, "chatter", ["chat"]))
        admin = bearer(create_key(c, "operator", ["admin"]))

        def denied(response, scope: str) -> None:
            assert response.status_code == 403, response.text
            body = response.json()
            assert body["details"]["requiredScope"] == scope and f"'{scope}'" in body["message"]
            assert (body["error"], body["code"]) == ("Forbidden", "insufficient_scope")

        assert c.get("/api/sessions", headers=read).status_code == 200
        assert c.get("/api/llm/current", headers=read).status_code == 200
        denied(c.post("/api/message-sync", headers=read, json={"content": "hi"}), "chat")
        denied(c.post("/api/sessions", headers=read, json={}), "chat")
        denied(c.post("/jsonrpc", headers=read, json={}), "chat")
        denied(c.post("/v1/chat/completions", headers=read, json={}), "chat")
        denied(c.post("/mcp", headers=read, json={}), "chat")
        denied(c.get("/api/keys", headers=read), "admin")

        assert c.post("/api/message-sync", headers=chat, json={"content": "hi"}).status_code == 200
        assert c.get("/api/sessions", headers=chat).status_code == 200               # chat implies read
        denied(c.get("/api/keys", headers=chat), "admin")
        denied(c.post("/api/keys", headers=chat, json={"name": "x", "scopes": ["admin"]}), "admin")
        denied(c.get("/api/audit", headers=chat), "admin")
        denied(c.post("/api/llm/switch", headers=chat, json={"provider": "echo"}), "admin")
        denied(c.post("/api/mcp/servers", headers=chat, json={}), "admin")
        denied(c.post("/api/agents/switch", headers=chat, json={}), "admin")
        denied(c.post("/api/agent/config", headers=chat, json={}), "admin")
        denied(c.get("/api/llm/key/openai", headers=chat), "admin")
        # Deny by default: an unknown route needs admin.
        denied(c.get("/some/unknown/route", headers=chat), "admin")
        denied(c.post("/api/unknown-action", headers=chat, json={}), "admin")

        assert c.get("/api/keys", headers=admin).status_code == 200
        assert c.get("/api/audit", headers=admin).status_code == 200
        assert c.post("/api/message-sync", headers=admin, json={"content": "hi"}).status_code == 200
        assert c.get("/some/unknown/route", headers=admin).status_code == 404
        assert any(e["action"] == "scope.denied" and e["keyName"] == "chatter" for e in audit_entries(c))


# --- ownership across keys ----------------------------------------------------------------

def test_sessions_belong_to_the_key_that_created_them(monkeypatch):
    production(monkeypatch)
    with live() as server, server.client() as c:
        alice = bearer(create_key(c, "alice", ["chat"]))
        bob = bearer(create_key(c, "bob", ["chat"]))
        sent = c.post("/api/message-sync", headers=alice, json={"content": "alice's secret plan"})
        assert sent.status_code == 200
        sid = sent.json()["sessionId"]
        created = c.post("/api/sessions", headers=alice, json={})
        assert created.status_code == 201
        alice_2 = created.json()["session"]["id"]

        alice_ids = {s["id"] for s in c.get("/api/sessions", headers=alice).json()["sessions"]}
        assert alice_ids == {sid, alice_2}
        assert c.get("/api/sessions", headers=bob).json()["sessions"] == []
        for method, path, body in [("GET", f"/api/sessions/{sid}", None),
                                   ("GET", f"/api/sessions/{sid}/history", None),
                                   ("GET", f"/api/sessions/{sid}/load", None),
                                   ("PATCH", f"/api/sessions/{sid}", {"title": "mine now"}),
                                   ("POST", f"/api/sessions/{sid}/fork", None),
                                   ("POST", f"/api/sessions/{sid}/cancel", None),
                                   ("DELETE", f"/api/sessions/{sid}", None),
                                   ("POST", "/api/reset", {"sessionId": sid}),
                                   ("POST", "/api/message-sync", {"content": "hi", "sessionId": sid}),
                                   ("POST", "/api/sessions", {"sessionId": alice_2}),
                                   ("GET", f"/api/llm/current?sessionId={sid}", None)]:
            response = c.request(method, path, headers=bob, json=body)
            assert response.status_code == 404, (method, path, response.status_code)
            assert "alice's secret plan" not in response.text
        # Still there for alice; admin (the root key) sees everything.
        history = c.get(f"/api/sessions/{sid}/history", headers=alice).json()["history"]
        assert any("alice's secret plan" in json.dumps(m) for m in history)
        assert sid in {s["id"] for s in c.get("/api/sessions", headers=ROOT).json()["sessions"]}
        bob_sid = c.post("/api/message-sync", headers=bob, json={"content": "hi"}).json()["sessionId"]
        assert {s["id"] for s in c.get("/api/sessions", headers=bob).json()["sessions"]} == {bob_sid}


def test_no_answer_tells_a_key_whether_a_session_id_exists(monkeypatch):
    # Issue 17.10: DELETE of another key's id answered 404 and a never-seen id 200, and
    # POST /api/sessions and message-sync created a never-seen id but refused another key's.
    # Every protocol now answers both exactly alike, and nothing is created.
    production(monkeypatch)
    with live() as server, server.client() as c:
        alice = bearer(create_key(c, "alice", ["chat"]))
        bob = bearer(create_key(c, "bob", ["chat"]))
        taken = c.post("/api/message-sync", headers=alice, json={"content": "hi"}).json()["sessionId"]

        def answers(sid: str) -> list[tuple[int, str]]:
            out = []
            for method, path, body in [("DELETE", f"/api/sessions/{sid}", None),
                                       ("POST", "/api/sessions", {"sessionId": sid}),
                                       ("POST", "/api/message-sync", {"content": "x", "sessionId": sid}),
                                       ("POST", "/api/message", {"content": "x", "sessionId": sid}),
                                       ("POST", "/api/message-stream", {"content": "x", "sessionId": sid})]:
                r = c.request(method, path, headers=bob, json=body)
                out.append((r.status_code, r.json()["code"],
                            r.json()["message"].replace(sid, "<id>")))
            a2a = c.post("/jsonrpc", headers=bob, json={
                "jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": {
                    "role": "user", "messageId": "m1", "contextId": sid,
                    "parts": [{"kind": "text", "text": "x"}]}}}).json()
            out.append((a2a["error"]["code"], "a2a", a2a["error"]["message"].replace(sid, "<id>")))
            openai = c.post("/v1/chat/completions", headers={**bob, "X-Session-Id": sid}, json={
                "model": "default-agent", "messages": [{"role": "user", "content": "x"}]})
            out.append((openai.status_code, "openai", openai.json()["error"]["message"].replace(sid, "<id>")))
            return out

        hidden, free = answers(taken), answers("never-seen-id")
        assert hidden == free
        assert {status for status, *_ in hidden[:5]} == {404}
        assert c.get("/api/sessions/never-seen-id", headers=ROOT).status_code == 404
        assert {s["id"] for s in c.get("/api/sessions", headers=bob).json()["sessions"]} == set()
        # An admin key (like the reference's single key) still creates under a chosen id.
        assert c.post("/api/sessions", headers=ROOT, json={"sessionId": "chosen"}).status_code == 201
        assert c.delete("/api/sessions/chosen", headers=ROOT).status_code == 200
        assert c.delete("/api/sessions/chosen", headers=ROOT).status_code == 404


# --- audit --------------------------------------------------------------------------------

def test_audit_rows_and_pagination(monkeypatch):
    production(monkeypatch)
    with live() as server, server.client() as c:
        c.get("/api/sessions", headers=bearer("definitely-wrong-key"))
        secret = create_key(c, "audited", ["chat"])
        c.post("/api/keys/audited/rotate", headers=ROOT, json={"grace": "1m"})
        c.delete("/api/keys/audited", headers=ROOT)
        switched = c.post("/api/llm/switch", headers=ROOT, json={"provider": "echo", "model": "echo",
                                                                 "apiKey": "sk-" + "q" * 30})
        assert switched.status_code == 200 and "qqqq" not in switched.text
        assert switched.json()["config"]["hasApiKey"] is True
        c.post("/api/mcp/servers", headers=ROOT, json={"name": "x", "config": {"command": "true"}})

        entries = audit_entries(c)
        actions = [e["action"] for e in entries]
        for action in ("auth.failure", "key.create", "key.rotate", "key.revoke", "llm.switch", "mcp.add"):
            assert action in actions, action
        create = next(e for e in entries if e["action"] == "key.create")
        assert create["keyName"] == "root" and create["address"] == "127.0.0.1"
        assert create["route"] == "POST /api/keys" and create["details"]["name"] == "audited"
        assert create["time"].endswith("Z") and create["ts"] > 0
        failure = next(e for e in entries if e["action"] == "auth.failure")
        assert failure["keyName"] is None and failure["outcome"] == "denied"
        dump = json.dumps(entries)
        assert secret not in dump and "definitely-wrong-key" not in dump and "q" * 30 not in dump

        # Newest first, paginated, filterable.
        page1 = c.get("/api/audit", headers=ROOT, params={"limit": 2}).json()
        assert len(page1["entries"]) == 2 and page1["total"] == len(entries) and page1["nextOffset"] == 2
        page2 = c.get("/api/audit", headers=ROOT, params={"limit": 2, "offset": 2}).json()
        assert [e["id"] for e in page1["entries"] + page2["entries"]] == [e["id"] for e in entries[:4]]
        assert page1["entries"][0]["ts"] >= page1["entries"][1]["ts"]
        keys_only = c.get("/api/audit", headers=ROOT, params={"action": "key.*"}).json()
        assert {e["action"] for e in keys_only["entries"]} == {"key.create", "key.rotate", "key.revoke"}
        by_root = c.get("/api/audit", headers=ROOT, params={"keyName": "root"}).json()["entries"]
        assert by_root and all(e["keyName"] == "root" for e in by_root)
        since = c.get("/api/audit", headers=ROOT, params={"since": time.time() + 60}).json()
        assert since["entries"] == [] and since["total"] == 0
        assert c.get("/api/audit", headers=ROOT, params={"limit": 0}).status_code == 400


# --- Postgres -----------------------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("SWITCHYARD_TEST_POSTGRES_URL"),
                    reason="set SWITCHYARD_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test) "
                           "to run the Postgres key-store test")
def test_postgres_key_store_and_server(monkeypatch):
    from sqlalchemy import delete

    from switchyard.server.security.audit import AuditLog
    from switchyard.store.database import Database
    from switchyard.store.engine import postgres_async_url
    from switchyard.store.tables import api_keys, audit_log

    url = os.environ["SWITCHYARD_TEST_POSTGRES_URL"]
    name = f"pg-{uuid.uuid4().hex[:10]}"

    async def store_roundtrip() -> str:
        db = await Database(postgres_async_url(url)).open()
        store = ApiKeyStore(db)
        try:
            secret, _ = await store.create(name, ["chat"], expires_in=3600)
            assert (await store.verify(secret)).ok
            new_secret, _, old = await store.rotate(name, grace_seconds=60)
            assert old.status() == "rotating" and (await store.verify(new_secret)).ok
            assert (await store.verify(secret)).ok
            revoked = await store.revoke(name)
            assert len(revoked) == 2
            assert (await store.verify(secret)).reason == "revoked"
            await AuditLog(db).record(None, "key.revoke", key_name="test", details={"name": name})
            _, total = await AuditLog(db).query(action="key.revoke", key_name="test")
            assert total >= 1
            live_secret, _ = await store.create(name + "-live", ["read"])
            return live_secret
        finally:
            await db.close()

    async def cleanup() -> None:
        db = await Database(postgres_async_url(url)).open()
        try:
            def run(conn) -> None:  # noqa: ANN001
                conn.execute(delete(api_keys).where(api_keys.c.name.like(f"{name}%")))
                conn.execute(delete(audit_log).where(audit_log.c.key_name == "test"))
            await db.write(run)
        finally:
            await db.close()

    try:
        live_secret = asyncio.run(store_roundtrip())
        # The server on the same Postgres database accepts the key.
        production(monkeypatch, SWITCHYARD_DATABASE_URL=url)
        with live() as server, server.client() as c:
            assert c.get("/api/sessions", headers=bearer(live_secret)).status_code == 200
            assert c.post("/api/message-sync", headers=bearer(live_secret), json={"content": "x"}).status_code == 403
    finally:
        asyncio.run(cleanup())
