"""Rate limits (per key, per address, per-key override), 429 and its headers, brute-force
throttling, the concurrent-run cap, the body limit (413) and the message length limit (400)."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid

import httpx
import pytest

from tests.support.security import (
    ROOT,
    ScriptedLLM,
    bearer,
    create_key,
    live,
    production,
    read_audit,
)


def window_start(windows: int = 1) -> None:
    """Sleep to just after a whole second, `windows` boundaries from now. The limiter's
    windows are aligned to the clock (sliding window counter): a short burst that starts
    here stays in one window, and after two boundaries nothing counted before weighs in."""
    time.sleep(windows - time.time() % 1.0 + 0.02)


def test_per_key_limit_429_and_headers(monkeypatch, caplog):
    production(monkeypatch, SWITCHYARD_RATE_LIMIT="3/second", SWITCHYARD_RATE_LIMIT_PER_ADDRESS="off")
    caplog.set_level(logging.WARNING)
    with live() as server, server.client() as c:
        window_start()
        remaining = []
        for _ in range(3):
            response = c.get("/api/sessions", headers=ROOT)
            assert response.status_code == 200
            assert response.headers["ratelimit-limit"] == "3"
            remaining.append(int(response.headers["ratelimit-remaining"]))
            assert 0 <= int(response.headers["ratelimit-reset"]) <= 1
        assert remaining == [2, 1, 0]
        over = c.get("/api/sessions", headers=ROOT)
        assert over.status_code == 429
        assert over.json()["code"] == "rate_limited" and "this API key" in over.json()["message"]
        assert 1 <= int(over.headers["retry-after"]) <= 2
        assert over.headers["ratelimit-limit"] == "3" and over.headers["ratelimit-remaining"] == "0"
        assert "ratelimit-reset" in over.headers
        assert over.headers["x-content-type-options"] == "nosniff"
        # Public routes are not limited; other keys have their own budget.
        assert c.get("/health").status_code == 200 and "ratelimit-limit" not in c.get("/health").headers
        window_start(2)
        assert c.get("/api/sessions", headers=ROOT).status_code == 200
    assert any("rate limit exceeded" in r.getMessage() for r in caplog.records)


def test_per_key_override(monkeypatch):
    production(monkeypatch, SWITCHYARD_RATE_LIMIT="100/second")
    with live() as server, server.client() as c:
        slow = bearer(create_key(c, "slow", ["read"], rateLimit="2/second"))
        fast = bearer(create_key(c, "fast", ["read"]))
        window_start()
        assert [c.get("/api/sessions", headers=slow).status_code for _ in range(3)] == [200, 200, 429]
        assert [c.get("/api/sessions", headers=fast).status_code for _ in range(5)] == [200] * 5
        assert c.get("/api/sessions", headers=fast).headers["ratelimit-limit"] == "100"


def test_per_address_limit(monkeypatch):
    production(monkeypatch, SWITCHYARD_RATE_LIMIT="off", SWITCHYARD_RATE_LIMIT_PER_ADDRESS="4/second")
    with live() as server, server.client() as c:
        # Keys are created by root first; wait until those requests no longer count.
        a = bearer(create_key(c, "a", ["read"]))
        b = bearer(create_key(c, "b", ["read"]))
        window_start(2)
        codes = [c.get("/api/sessions", headers=h).status_code for h in (a, b, a, b, a)]
        assert codes == [200, 200, 200, 200, 429]
        over = c.get("/api/sessions", headers=b)
        assert over.status_code == 429 and "client address" in over.json()["message"]
        assert "retry-after" in over.headers


def test_limits_off_in_development_unless_configured(monkeypatch):
    with live() as server, server.client() as c:
        responses = [c.get("/api/sessions") for _ in range(20)]
    assert all(r.status_code == 200 and "ratelimit-limit" not in r.headers for r in responses)
    monkeypatch.setenv("SWITCHYARD_RATE_LIMIT", "2/second")
    with live() as server, server.client() as c:
        window_start()
        assert [c.get("/api/sessions").status_code for _ in range(3)] == [200, 200, 429]


def test_brute_force_throttle(monkeypatch, caplog):
    production(monkeypatch, SWITCHYARD_AUTH_FAILURE_LIMIT="3/minute")
    caplog.set_level(logging.WARNING)
    with live() as server, server.client() as c:
        # Requests without any credential are plain 401s and do not count.
        assert {c.get("/api/sessions").status_code for _ in range(5)} == {401}
        assert c.get("/api/sessions", headers=ROOT).status_code == 200
        codes = [c.get("/api/sessions", headers=bearer(f"guess-{i}")).status_code for i in range(3)]
        assert codes == [401, 401, 401]
        blocked = c.get("/api/sessions", headers=bearer("guess-4"))
        assert blocked.status_code == 429 and blocked.json()["code"] == "auth_throttled"
        assert int(blocked.headers["retry-after"]) >= 1
        # Blocked means blocked, even with the right key, for the rest of the window.
        assert c.get("/api/sessions", headers=ROOT).status_code == 429
        assert c.get("/health").status_code == 200
    messages = [r.getMessage() for r in caplog.records]
    assert any("throttling it" in m for m in messages) and any("authentication throttled" in m for m in messages)
    assert any(e["action"] == "auth.throttled" for e in read_audit())


def test_concurrent_runs_cap(monkeypatch):
    production(monkeypatch, SWITCHYARD_MAX_CONCURRENT_RUNS_PER_KEY="1")
    with live(ScriptedLLM("slow answer", delay=1.0)) as server, server.client() as c:
        other = bearer(create_key(c, "other", ["chat"]))
        results: dict[str, int] = {}

        def run(name: str, headers: dict[str, str]) -> None:
            with httpx.Client(base_url=server.url, timeout=30) as own:
                results[name] = own.post("/api/message-sync", headers=headers, json={"content": "hi"}).status_code

        first = threading.Thread(target=run, args=("first", ROOT))
        first.start()
        time.sleep(0.3)
        parallel = threading.Thread(target=run, args=("other-key", other))
        parallel.start()
        second = c.post("/api/message-sync", headers=ROOT, json={"content": "hi"})
        assert second.status_code == 429
        assert second.json()["code"] == "too_many_runs"
        assert "SWITCHYARD_MAX_CONCURRENT_RUNS_PER_KEY" in second.json()["message"]
        assert second.headers["retry-after"] == "1"
        streamed = c.post("/api/message-stream", headers=ROOT, json={"content": "hi"})
        assert streamed.status_code == 429
        # Non-run routes are not capped.
        assert c.get("/api/sessions", headers=ROOT).status_code == 200
        first.join()
        parallel.join()
        assert results == {"first": 200, "other-key": 200}
        assert c.post("/api/message-sync", headers=ROOT, json={"content": "hi"}).status_code == 200


def test_body_limit_413(monkeypatch):
    production(monkeypatch, SWITCHYARD_MAX_BODY_BYTES="1000")
    with live() as server, server.client() as c:
        small = c.post("/api/message-sync", headers=ROOT, json={"content": "x" * 100})
        assert small.status_code == 200
        big = c.post("/api/message-sync", headers=ROOT, json={"content": "x" * 2000})
        assert big.status_code == 413 and big.json()["code"] == "payload_too_large"

        def chunks():
            yield b'{"content": "'
            for _ in range(10):
                yield b"y" * 200
            yield b'"}'
        chunked = c.post("/api/message-sync", headers={**ROOT, "Content-Type": "application/json"},
                         content=chunks())
        assert chunked.status_code == 413
        # Checked before authentication: a huge unauthenticated body is refused unread.
        assert c.post("/api/message-sync", content=b"z" * 5000).status_code == 413


def test_default_body_limit_is_10_mib(monkeypatch):
    production(monkeypatch)
    with live() as server, server.client() as c:
        over = c.post("/api/message-sync", headers={**ROOT, "Content-Type": "application/json"},
                      content=b" " * (10 * 1024 * 1024 + 1))
        assert over.status_code == 413
        assert "10485760" in over.json()["message"]


def test_message_content_length_limit(monkeypatch):
    production(monkeypatch)
    monkeypatch.setenv("SWITCHYARD_MAX_MESSAGE_CHARS", "50")
    with live() as server, server.client() as c:
        assert c.post("/api/message-sync", headers=ROOT, json={"content": "x" * 50}).status_code == 200
        too_long = c.post("/api/message-sync", headers=ROOT, json={"content": "x" * 51})
        assert too_long.status_code == 400
        body = too_long.json()
        assert body["code"] == "content_too_long" and body["details"]["field"] == "content"
        assert "content" in body["message"] and "SWITCHYARD_MAX_MESSAGE_CHARS" in body["message"]
        parts = c.post("/api/message-sync", headers=ROOT,
                       json={"content": [{"type": "text", "text": "y" * 60}]})
        assert parts.status_code == 400


@pytest.mark.redis
@pytest.mark.skipif(not os.environ.get("SWITCHYARD_TEST_REDIS_URL"),
                    reason="set SWITCHYARD_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15) to run the Redis limits test")
def test_limits_shared_through_redis(monkeypatch):
    production(monkeypatch, SWITCHYARD_RATE_LIMIT="3/second", SWITCHYARD_RATE_LIMIT_PER_ADDRESS="off",
               SWITCHYARD_REDIS_URL=os.environ["SWITCHYARD_TEST_REDIS_URL"],
               SWITCHYARD_RATE_LIMIT_NAMESPACE=f"sytest-{uuid.uuid4().hex[:8]}")
    with live() as one, live() as two, one.client() as a, two.client() as b:
        window_start()
        codes = [a.get("/api/sessions", headers=ROOT).status_code, b.get("/api/sessions", headers=ROOT).status_code,
                 a.get("/api/sessions", headers=ROOT).status_code, b.get("/api/sessions", headers=ROOT).status_code]
        assert codes == [200, 200, 200, 429]
