"""Webhooks over real HTTP: a live server, a real loopback receiver, the server database on
disk. Signatures, the event filter, retries with backoff, dead letters, ordering per
webhook, survival across a restart, and the URL policy (SSRF) with the allow-list on and off."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import pytest

from switchyard.automation.signing import verify
from tests.support.live_server import LiveServer
from tests.support.security import ROOT, ROOT_KEY, ScriptedLLM, bearer, create_key
from tests.support.webhook_receiver import Reply, WebhookReceiver

LOOPBACK_ALLOWED = {"SWITCHYARD_WEBHOOK_ALLOW_NETWORKS": "127.0.0.1/32"}


def server(tmp_path, env: dict[str, str] | None = None, *, resolver: Any = None, text: str = "hello there",
           delay: float = 0.0) -> LiveServer:
    settings_env = {"SWITCHYARD_HOME": str(tmp_path / "home"), "SWITCHYARD_WEBHOOK_RETRY_BASE_SECONDS": "0.05",
                    "SWITCHYARD_WEBHOOK_TIMEOUT_SECONDS": "2", **(env or {})}

    def factory() -> Any:
        from switchyard.config import parse_agent
        from switchyard.runtime.agent import Agent
        from switchyard.runtime.host import AgentHost
        from switchyard.server.app import create_app
        from switchyard.server.settings import ServerSettings
        agent = Agent(parse_agent({"agentId": "hooks", "storage": {"database": {
            "type": "sqlite", "path": str(tmp_path / "agent.db")}}}, env={}), llm_client=ScriptedLLM(text, delay))
        app = create_app(AgentHost([agent]), settings=ServerSettings.from_env(settings_env), shutdown_grace=3)
        if resolver is not None:
            app.state.automation.webhooks.deliverer.resolver = resolver
        return app

    return LiveServer(factory)


def deliveries(client, hook_id: str, **params: Any) -> list[dict[str, Any]]:
    r = client.get(f"/api/webhooks/{hook_id}/deliveries", params=params)
    assert r.status_code == 200, r.text
    return r.json()["deliveries"]


def wait_until(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_crud_in_the_references_shapes_and_the_secret_is_never_returned(tmp_path):
    with server(tmp_path, LOOPBACK_ALLOWED) as live, live.client() as c:
        r = c.post("/api/webhooks", json={"url": "http://127.0.0.1:9/hook", "secret": "s3cret-value",
                                          "description": "ops"})
        assert r.status_code == 201, r.text
        hook = r.json()["webhook"]
        assert hook["id"].startswith("wh_") and hook["url"] == "http://127.0.0.1:9/hook"
        assert hook["description"] == "ops" and hook["createdAt"].endswith("Z")
        assert "secret" not in r.json() and "s3cret-value" not in r.text
        generated = c.post("/api/webhooks", json={"url": "http://127.0.0.1:9/other"})
        assert generated.json()["secret"].startswith("whsec_")   # shown this once
        listed = c.get("/api/webhooks")
        assert [h["id"] for h in listed.json()["webhooks"]] == [hook["id"], generated.json()["webhook"]["id"]]
        assert "s3cret-value" not in listed.text and "whsec_" not in listed.text
        one = c.get(f"/api/webhooks/{hook['id']}")
        assert one.json()["webhook"] == hook and "s3cret" not in one.text
        assert c.delete(f"/api/webhooks/{hook['id']}").json() == {"status": "removed", "webhookId": hook["id"]}
        missing = c.get(f"/api/webhooks/{hook['id']}")
        assert missing.status_code == 404 and missing.json()["code"] == "webhook_not_found"
        assert c.delete(f"/api/webhooks/{hook['id']}").status_code == 404
        bad = c.post("/api/webhooks", json={"url": "http://127.0.0.1:9/", "events": ["run:complete", "nope"]})
        assert bad.status_code == 400 and bad.json()["details"]["field"] == "events[1]"
        scheme = c.post("/api/webhooks", json={"url": "ftp://127.0.0.1/x"})
        assert scheme.status_code == 400 and scheme.json()["code"] == "webhook_url_refused"
        extra = c.post("/api/webhooks", json={"url": "http://127.0.0.1:9/", "colour": "red"})
        assert extra.status_code == 400


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/x", "http://localhost/x", "http://169.254.169.254/latest",
                                 "http://10.1.2.3/x", "http://192.168.0.1/x", "http://[::1]/x",
                                 "http://[::ffff:127.0.0.1]/x", "http://0.0.0.0/x", "http://100.64.0.1/x",
                                 "http://metadata.google.internal/x", "http://user:pw@example.com/x"])
def test_the_default_policy_refuses_internal_targets(tmp_path, url):
    with server(tmp_path) as live, live.client() as c:
        r = c.post("/api/webhooks", json={"url": url})
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "webhook_url_refused" and r.json()["details"]["field"] == "url"


def test_production_requires_https(tmp_path):
    env = {"SWITCHYARD_ENV": "production", "SWITCHYARD_API_KEY": ROOT_KEY}
    with server(tmp_path, env) as live, live.client(headers=ROOT) as c:
        r = c.post("/api/webhooks", json={"url": "http://hooks.example.com/x"})
        assert r.status_code == 400 and "https is required" in r.json()["message"]
        assert c.post("/api/webhooks", json={"url": "https://hooks.example.com/x"}).status_code == 201


def test_run_events_are_delivered_signed_in_order_and_filtered(tmp_path):
    with WebhookReceiver() as receiver, server(tmp_path, LOOPBACK_ALLOWED) as live, live.client() as c:
        secret = "whsec_test_secret_1234"
        every = c.post("/api/webhooks", json={"url": receiver.url, "secret": secret}).json()["webhook"]
        only_end = c.post("/api/webhooks", json={"url": receiver.url + "?only=end", "secret": secret,
                                                 "events": ["run:complete"]}).json()["webhook"]
        r = c.post("/api/message-sync", json={"content": "hi", "sessionId": "s-hook"})
        assert r.status_code == 200 and r.json()["response"] == "hello there"
        seen = receiver.wait_for(lambda reqs: sum(x.type == "run:complete" for x in reqs) == 2)
        mine = [x for x in seen if x.headers["switchyard-webhook-id"] == every["id"]]
        assert [x.type for x in mine] == ["llm:response", "run:complete"]
        assert [x.type for x in seen if x.headers["switchyard-webhook-id"] == only_end["id"]] == ["run:complete"]
        response = mine[0]
        assert response.json["data"]["content"] == "hello there" and response.json["data"]["sessionId"] == "s-hook"
        assert response.json["agentId"] == "hooks" and response.json["id"].startswith("evt_")
        # The documented signature, checked by the library's verifier and by hand.
        header = response.headers["switchyard-signature"]
        assert verify(secret, header, response.body)
        ts = response.headers["switchyard-timestamp"]
        expected = hmac.new(secret.encode(), f"{ts}.".encode() + response.body, hashlib.sha256).hexdigest()
        assert header == f"t={ts},v1={expected}"
        assert not verify("wrong-secret", header, response.body)
        assert not verify(secret, header, response.body + b" ")
        assert response.headers["x-dexto-signature-256"] == "sha256=" + hmac.new(
            secret.encode(), response.body, hashlib.sha256).hexdigest()
        assert response.headers["switchyard-delivery-id"].startswith("dlv_")
        assert len({x.headers["switchyard-delivery-id"] for x in seen}) == len(seen)
        listed = wait_until(lambda: [d for d in deliveries(c, every["id"]) if d["status"] == "delivered"])
        assert {d["eventType"] for d in listed} == {"llm:response", "run:complete"}


def test_retries_with_backoff_then_delivers_and_keeps_order(tmp_path):
    with WebhookReceiver() as receiver, server(tmp_path, LOOPBACK_ALLOWED) as live, live.client() as c:
        # The first event fails twice (a 503, then a timeout): the second must wait for it.
        receiver.script(Reply(503), Reply(200, delay=2.5))
        hook = c.post("/api/webhooks", json={"url": receiver.url, "secret": "k"}).json()["webhook"]
        assert c.post("/api/message-sync", json={"content": "hi", "sessionId": "r1"}).status_code == 200
        receiver.wait_for(lambda reqs: any(x.type == "run:complete" and x.answered == 200 for x in reqs))
        ok = [x for x in receiver.requests if x.answered == 200]
        types = [x.type for x in receiver.requests]
        assert types[:3] == ["llm:response"] * 3   # 503, timed out (its 200 came too late), then 200
        assert [x.headers["x-dexto-delivery-attempt"] for x in receiver.requests[:3]] == ["1", "2", "3"]
        assert len({x.headers["switchyard-delivery-id"] for x in receiver.requests[:3]}) == 1
        assert [x.type for x in ok][-2:] == ["llm:response", "run:complete"]
        done = wait_until(lambda: [d for d in deliveries(c, hook["id"]) if d["eventType"] == "llm:response"
                                   and d["status"] == "delivered"])
        assert done[0]["attempts"] == 3


def test_a_4xx_or_a_redirect_is_a_dead_letter_visible_and_retryable(tmp_path):
    with WebhookReceiver() as receiver, server(tmp_path, LOOPBACK_ALLOWED) as live, live.client() as c:
        receiver.script(Reply(410), Reply(302, headers={"Location": "http://169.254.169.254/latest/meta-data"}))
        hook = c.post("/api/webhooks", json={"url": receiver.url, "secret": "k"}).json()["webhook"]
        assert c.post("/api/message-sync", json={"content": "hi", "sessionId": "d1"}).status_code == 200
        dead = wait_until(lambda: len(deliveries(c, hook["id"], status="dead")) == 2
                          and deliveries(c, hook["id"], status="dead"))
        by_type = {d["eventType"]: d for d in dead}
        assert by_type["llm:response"]["lastStatusCode"] == 410 and by_type["llm:response"]["attempts"] == 1
        assert "redirects are not followed" in by_type["run:complete"]["lastError"]
        assert len(receiver.requests) == 2        # nothing followed the redirect
        r = c.post(f"/api/webhooks/{hook['id']}/deliveries/{by_type['llm:response']['id']}/retry")
        assert r.status_code == 200 and r.json() == {"requeued": True, "deliveryId": by_type["llm:response"]["id"]}
        receiver.wait_for(lambda reqs: any(x.type == "llm:response" and x.answered == 200 for x in reqs))
        wait_until(lambda: any(d["id"] == by_type["llm:response"]["id"]
                               for d in deliveries(c, hook["id"], status="delivered")))
        # Only a dead delivery can be sent again.
        again = c.post(f"/api/webhooks/{hook['id']}/deliveries/{by_type['llm:response']['id']}/retry")
        assert again.status_code == 404 and again.json()["code"] == "delivery_not_found"


def test_undelivered_events_survive_a_restart(tmp_path):
    receiver = WebhookReceiver()   # not started: deliveries fail with connection refused
    env = {**LOOPBACK_ALLOWED, "SWITCHYARD_WEBHOOK_RETRY_BASE_SECONDS": "0.2", "SWITCHYARD_WEBHOOK_MAX_ATTEMPTS": "100"}
    with server(tmp_path, env) as live, live.client() as c:
        hook = c.post("/api/webhooks", json={"url": receiver.url, "secret": "k"}).json()["webhook"]
        assert c.post("/api/message-sync", json={"content": "hi", "sessionId": "keep"}).status_code == 200
        pending = wait_until(lambda: [d for d in deliveries(c, hook["id"], status="pending") if d["attempts"] >= 1])
        assert pending[0]["lastError"]
    with receiver, server(tmp_path, env) as live, live.client() as c:
        seen = receiver.wait_for(lambda reqs: any(x.type == "run:complete" for x in reqs))
        assert [x.type for x in seen] == ["llm:response", "run:complete"]
        assert wait_until(lambda: len(deliveries(c, hook["id"], status="delivered")) == 2)


def test_dns_is_checked_at_delivery_and_the_checked_address_is_used(tmp_path):
    async def rebinding(host: str, port: int) -> list[str]:
        assert host == "hooks.example.test"
        return ["127.0.0.1"]     # a public name that now points inside

    with WebhookReceiver() as receiver:
        with server(tmp_path, resolver=rebinding) as live, live.client() as c:
            url = f"http://hooks.example.test:{receiver.port}/hook"
            hook = c.post("/api/webhooks", json={"url": url, "secret": "k"}).json()["webhook"]
            assert c.post("/api/message-sync", json={"content": "hi", "sessionId": "dns"}).status_code == 200
            dead = wait_until(lambda: len(deliveries(c, hook["id"], status="dead")) == 2
                              and deliveries(c, hook["id"], status="dead"))
            assert all("resolved to 127.0.0.1, which is not allowed" in d["lastError"] for d in dead)
            assert receiver.requests == []
            tested = c.post(f"/api/webhooks/{hook['id']}/test").json()
            assert tested["test"] == "completed" and tested["result"]["success"] is False
        # With the allow-list, the request goes to the resolved address, the name in Host.
        with server(tmp_path / "b", LOOPBACK_ALLOWED, resolver=rebinding) as live, live.client() as c:
            hook = c.post("/api/webhooks", json={"url": url, "secret": "k"}).json()["webhook"]
            tested = c.post(f"/api/webhooks/{hook['id']}/test").json()
            assert tested["result"]["success"] is True and tested["result"]["statusCode"] == 200
            got = receiver.requests[-1]
            assert got.headers["host"] == f"hooks.example.test:{receiver.port}"
            assert got.type == "tools:available-updated" and got.json["id"].startswith("evt_test_")


def test_webhooks_belong_to_the_key_that_made_them(tmp_path):
    env = {"SWITCHYARD_ENV": "production", "SWITCHYARD_API_KEY": ROOT_KEY, "SWITCHYARD_WEBHOOK_ALLOW_HTTP": "true",
           **LOOPBACK_ALLOWED}
    with server(tmp_path, env) as live, live.client() as c:
        alice = bearer(create_key(c, "alice", ["admin"]))
        bob = bearer(create_key(c, "bob", ["admin"]))
        reader = bearer(create_key(c, "reader", ["read", "chat"]))
        mine = c.post("/api/webhooks", headers=alice, json={"url": "http://127.0.0.1:9/a"}).json()["webhook"]
        assert c.get("/api/webhooks", headers=bob).json()["webhooks"] == []
        assert c.get(f"/api/webhooks/{mine['id']}", headers=bob).status_code == 404
        assert c.delete(f"/api/webhooks/{mine['id']}", headers=bob).status_code == 404
        assert c.post(f"/api/webhooks/{mine['id']}/test", headers=bob).status_code == 404
        assert c.get(f"/api/webhooks/{mine['id']}/deliveries", headers=bob).status_code == 404
        assert [h["id"] for h in c.get("/api/webhooks", headers=alice).json()["webhooks"]] == [mine["id"]]
        assert [h["id"] for h in c.get("/api/webhooks", headers=ROOT).json()["webhooks"]] == [mine["id"]]
        assert c.get("/api/webhooks", headers=reader).status_code == 403


def test_a_failed_run_delivers_llm_error_then_run_complete(tmp_path):
    from switchyard.errors import LLMError
    from switchyard.llm.function import FunctionModel

    def failing(messages: Any, tools: Any, info: Any) -> str:
        raise LLMError("upstream unavailable", provider="scripted", upstream_status=503)

    def factory() -> Any:
        from switchyard.config import parse_agent
        from switchyard.runtime.agent import Agent
        from switchyard.runtime.host import AgentHost
        from switchyard.server.app import create_app
        from switchyard.server.settings import ServerSettings
        agent = Agent(parse_agent({"agentId": "broken", "storage": {"database": {"type": "in-memory"}}}, env={}),
                      llm_client=FunctionModel(failing))
        env = {"SWITCHYARD_HOME": str(tmp_path), **LOOPBACK_ALLOWED}
        return create_app(AgentHost([agent]), settings=ServerSettings.from_env(env), shutdown_grace=3)

    with WebhookReceiver() as receiver, LiveServer(factory) as live, live.client() as c:
        c.post("/api/webhooks", json={"url": receiver.url, "secret": "k", "agentId": "broken"})
        assert c.post("/api/message-sync", json={"content": "hi", "sessionId": "e"}).status_code == 502
        seen = receiver.wait_for(lambda reqs: any(x.type == "run:complete" for x in reqs))
        assert [x.type for x in seen] == ["llm:error", "run:complete"]
        assert "upstream unavailable" in seen[0].json["data"]["error"]["message"]
        assert seen[1].json["data"]["finishReason"] == "error"
        other = c.post("/api/webhooks", json={"url": receiver.url, "agentId": "ghost"})
        assert other.status_code == 400 and other.json()["details"]["field"] == "agentId"


def test_an_approval_request_reaches_the_webhook_while_the_run_waits(tmp_path):
    from switchyard.llm.function import FunctionModel, tool_call
    from switchyard.tools.base import FunctionTool

    def stamp(label: str) -> str:
        """Stamp a label."""
        return f"stamped {label}"

    def reply(messages: Any, tools: Any, info: Any) -> Any:
        if messages[-1]["role"] == "user":
            return [tool_call("stamp", {"label": "urgent"})]
        return "done"

    def factory() -> Any:
        from switchyard.config import parse_agent
        from switchyard.runtime.agent import Agent
        from switchyard.runtime.host import AgentHost
        from switchyard.server.app import create_app
        from switchyard.server.settings import ServerSettings
        agent = Agent(parse_agent({"agentId": "gate", "permissions": {"mode": "manual"},
                                   "storage": {"database": {"type": "in-memory"}}}, env={}),
                      tools=[FunctionTool(stamp)], llm_client=FunctionModel(reply))
        env = {"SWITCHYARD_HOME": str(tmp_path), **LOOPBACK_ALLOWED}
        return create_app(AgentHost([agent]), settings=ServerSettings.from_env(env), shutdown_grace=3)

    with WebhookReceiver() as receiver, LiveServer(factory) as live, live.client() as c:
        c.post("/api/webhooks", json={"url": receiver.url, "secret": "k", "events": ["approval:request"]})
        assert c.post("/api/message", json={"content": "stamp it", "sessionId": "ap"}).status_code == 202
        [request] = receiver.wait_for(lambda reqs: len(reqs) == 1)
        data = request.json["data"]
        assert request.type == "approval:request" and data["metadata"]["toolName"] == "stamp"
        assert data["metadata"]["args"] == {"label": "urgent"} and data["sessionId"] == "ap"
        # The receiver (a person's tool) answers it over the API; the run goes on.
        answer = c.post(f"/api/approvals/{data['approvalId']}", json={"status": "approved"})
        assert answer.status_code == 200
        wait_until(lambda: c.get("/api/sessions/ap/history").json()["history"][-1]["content"] == "done")


def test_https_goes_to_the_checked_address_with_the_name_in_sni_and_the_certificate(tmp_path):
    import ssl

    import httpx
    import trustme

    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.example.test").configure_cert(server_tls)
    client_tls = ssl.create_default_context()
    ca.configure_trust(client_tls)

    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    def with_tls(app: Any) -> Any:
        app.state.automation.webhooks.deliverer.use_client(
            httpx.AsyncClient(verify=client_tls, follow_redirects=False, trust_env=False))
        return app

    with WebhookReceiver(tls=server_tls) as receiver:
        live = server(tmp_path, LOOPBACK_ALLOWED, resolver=resolve)
        factory = live.app_factory
        live.app_factory = lambda: with_tls(factory())
        with live, live.client() as c:
            good = c.post("/api/webhooks", json={"url": f"https://hooks.example.test:{receiver.port}/hook",
                                                 "secret": "k"}).json()["webhook"]
            result = c.post(f"/api/webhooks/{good['id']}/test").json()["result"]
            assert result["success"] is True, result
            assert receiver.requests[-1].headers["host"] == f"hooks.example.test:{receiver.port}"
            # A name the certificate does not cover fails the TLS check (the pinned address
            # does not weaken certificate verification).
            wrong = c.post("/api/webhooks", json={"url": f"https://other.example.test:{receiver.port}/hook",
                                                  "secret": "k"}).json()["webhook"]
            result = c.post(f"/api/webhooks/{wrong['id']}/test").json()["result"]
            assert result["success"] is False and "certificate" in result["error"].lower()
