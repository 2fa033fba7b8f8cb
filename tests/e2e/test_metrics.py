"""GET /metrics over real HTTP: real turns against the scripted fake LLM (one with a tool call,
one with a tool the model made up) move the counters, parsed with prometheus_client's own
parser; routes are counted by template, never by raw path; only the admin scope may scrape.

The registry is the process's (other tests in this process count too): every check compares
a scrape after the turns with one before them."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.fake_llm import Delay, Text, ToolCalls
from tests.support.security import ROOT, ROOT_KEY, bearer, create_key
from tests.support.tools import agent_config, module_server, wait_until

TODO = {"todos": [{"content": "Count things", "activeForm": "Counting things", "status": "pending"}]}


def scrape(client: Any, **kwargs: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: dict, after: dict, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture
def server(fake_llm, tmp_path_factory):
    config = agent_config("metered", fake_llm.base_url, tools=[{"type": "todo-tools"}])
    with module_server(tmp_path_factory, config) as live:
        yield live


def test_turns_tool_calls_tokens_and_requests_are_counted(server, fake_llm):
    fake_llm.script(ToolCalls([("c1", "todo_write", TODO)]), Text("Listed."),
                    ToolCalls([("c2", "no_such_tool", {})]), Text("Sorry."))
    with server.client() as c:
        before = scrape(c)
        first = c.post("/api/message-sync", json={"content": "make a list", "sessionId": "m-1"})
        assert first.status_code == 200, first.text
        assert first.json()["response"] == "Listed."
        second = c.post("/api/message-sync", json={"content": "use a tool that is not there", "sessionId": "m-2"})
        assert second.status_code == 200, second.text
        for sid in ("m-1", "m-2", "m-3"):
            assert c.get(f"/api/sessions/{sid}").status_code in (200, 404)
        after = scrape(c)

    assert moved(before, after, "switchyard_runs_started_total", agent="metered") == 2
    assert moved(before, after, "switchyard_runs_finished_total", agent="metered", outcome="completed") == 2
    assert value(after, "switchyard_runs_active", agent="metered") == 0
    assert moved(before, after, "switchyard_tool_calls_total", agent="metered", tool="todo_write", outcome="ok") == 1
    # A name the model made up is counted as `unknown`, never as a label of its own.
    assert moved(before, after, "switchyard_tool_calls_total", agent="metered", tool="unknown", outcome="error") == 1
    assert not any(name == "switchyard_tool_calls_total" and ("tool", "no_such_tool") in labels
                   for name, labels in after)
    # Four model calls, the fake's token counts summed per direction.
    assert moved(before, after, "switchyard_llm_call_duration_seconds_count",
                 provider="openai-compatible", model="fake-model", outcome="ok") == 4
    tokens_in = moved(before, after, "switchyard_llm_tokens_total", provider="openai-compatible",
                      model="fake-model", direction="input")
    tokens_out = moved(before, after, "switchyard_llm_tokens_total", provider="openai-compatible",
                       model="fake-model", direction="output")
    assert tokens_in > 0 and tokens_out > 0
    # Requests by route template: three session ids, one label value.
    assert moved(before, after, "switchyard_http_requests_total",
                 route="/api/message-sync", method="POST", status="200") == 2
    got = sum(moved(before, after, "switchyard_http_requests_total", route="/api/sessions/{session_id}",
                    method="GET", status=status) for status in ("200", "404"))
    assert got == 3
    assert not any(("route", "/api/sessions/m-1") in labels for _, labels in after)
    assert moved(before, after, "switchyard_http_request_duration_seconds_count",
                 route="/api/message-sync", method="POST") == 2
    assert value(after, "switchyard_queued_messages", queue="steer") == 0
    assert ("switchyard_webhook_deliveries_pending", ()) in after


def test_queue_depth_follows_the_follow_up_queue(server, fake_llm):
    fake_llm.script(Delay(1.5, then=Text("first")), Text("second"))
    with server.client() as c:
        started = c.post("/api/message", json={"content": "slow one", "sessionId": "q-1"})
        assert started.status_code == 202, started.text
        queued = c.post("/api/follow-up/q-1", json={"content": "then this"})
        assert queued.status_code in (200, 201, 202), queued.text
        during = scrape(c)
        assert value(during, "switchyard_queued_messages", queue="follow-up") >= 1
        assert value(during, "switchyard_runs_active", agent="metered") >= 1
        wait_until(lambda: fake_llm.pending == 0 and value(scrape(c), "switchyard_runs_active", agent="metered") == 0,
                   timeout=30)
        after = scrape(c)
    assert value(after, "switchyard_queued_messages", queue="follow-up") == 0


def test_only_the_admin_scope_may_scrape(fake_llm, tmp_path_factory):
    config = agent_config("metered", fake_llm.base_url)
    env = {"SWITCHYARD_ENV": "production", "SWITCHYARD_API_KEY": ROOT_KEY}
    with module_server(tmp_path_factory, config, env=env) as live, live.client() as c:
        before = scrape(c, headers=ROOT)
        assert c.get("/metrics").status_code == 401
        reader = create_key(c, "reader", ["read"])
        chat = create_key(c, "chatter", ["chat"])
        for key in (reader, chat):
            refused = c.get("/metrics", headers=bearer(key))
            assert refused.status_code == 403, refused.text
            assert refused.json()["code"] == "insufficient_scope"
        admin = create_key(c, "scraper", ["admin"])
        assert "switchyard_http_requests_total" in c.get("/metrics", headers=bearer(admin)).text
        after = scrape(c, headers=ROOT)
    # The refusals are counted too, under the route's template.
    assert moved(before, after, "switchyard_http_requests_total", route="/metrics", method="GET", status="401") == 1
    assert moved(before, after, "switchyard_http_requests_total", route="/metrics", method="GET", status="403") == 2


def test_limit_refusals_are_counted_by_reason(fake_llm, tmp_path_factory):
    config = agent_config("metered", fake_llm.base_url)
    env = {"SWITCHYARD_ENV": "production", "SWITCHYARD_API_KEY": ROOT_KEY, "SWITCHYARD_RATE_LIMIT": "5/minute"}
    with module_server(tmp_path_factory, config, env=env) as live, live.client() as c:
        before = scrape(c, headers=ROOT)
        key = create_key(c, "busy", ["read"])
        statuses = [c.get("/api/sessions", headers=bearer(key)).status_code for _ in range(7)]
        assert statuses == [200] * 5 + [429] * 2
        after = scrape(c, headers=ROOT)
    assert moved(before, after, "switchyard_rate_limited_total", reason="rate_limited") == 2
    assert moved(before, after, "switchyard_http_requests_total", route="/api/sessions", method="GET",
                 status="429") == 2
