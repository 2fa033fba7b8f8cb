"""OpenTelemetry traces of a turn, exported over OTLP/HTTP to a fake collector on loopback:
`switchyard serve` (a real process: the tracer provider is process-wide) on an agent file whose
`telemetry` block names the collector; one turn with a tool call. The span tree is
HTTP request -> agent.run -> llm.call (x2) and tool.call, under the caller's traceparent; the
attributes name agent, session, model, tokens and tool, and nothing the user, the model or
the tool said, nor the API key or the exporter's header, is in any span."""

from __future__ import annotations

import json

import httpx
import pytest

pytest.importorskip("opentelemetry.sdk", reason="the [otel] extra is not installed (pip install -e '.[otel]')")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http",
                    reason="the [otel] extra is not installed (pip install -e '.[otel]')")
pytest.importorskip("opentelemetry.proto", reason="opentelemetry-proto (the [test] extra) is not installed")

from tests.support.cli_process import CliProcess, cli_env  # noqa: E402
from tests.support.fake_llm import Text, ToolCalls  # noqa: E402
from tests.support.net import free_port  # noqa: E402
from tests.support.otlp_collector import OtlpCollector  # noqa: E402

API_KEY = "sk-test-trace-key-0123456789"
OTEL_TOKEN = "otel-header-token-0123456789"
QUESTION = "QUESTION-words-7f3a: plan my day"
TOOL_TEXT = "TOOLARG-words-91bc"
ANSWER = "ANSWER-words-c0de: done"
SECRETS = (API_KEY, OTEL_TOKEN, "QUESTION-words-7f3a", TOOL_TEXT, "ANSWER-words-c0de")
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def collector():
    running = OtlpCollector().start()
    yield running
    running.stop()


def agent_file(tmp_path, fake_llm, collector) -> str:
    config = {
        "agentId": "traced",
        "llm": {"provider": "openai-compatible", "model": "fake-model", "baseURL": fake_llm.base_url,
                "apiKey": "$TRACE_TEST_KEY"},
        "storage": {"database": {"type": "in-memory"}},
        "tools": [{"type": "todo-tools"}],
        "telemetry": {"enabled": True, "serviceName": "switchyard-trace-test",
                      "export": {"type": "otlp", "protocol": "http", "endpoint": collector.endpoint,
                                 "headers": {"authorization": "Bearer $OTEL_TEST_TOKEN"}}},
    }
    path = tmp_path / "traced.yml"
    path.write_text(json.dumps(config))   # JSON is YAML
    return str(path)


def test_a_turn_is_traced_from_the_request_to_each_model_and_tool_call(tmp_path, fake_llm, collector):
    fake_llm.script(ToolCalls([("call-1", "todo_write", {"todos": [
                        {"content": TOOL_TEXT, "activeForm": TOOL_TEXT, "status": "pending"}]})]),
                    Text(ANSWER))
    port = free_port()
    env = cli_env(tmp_path / "home", TRACE_TEST_KEY=API_KEY, OTEL_TEST_TOKEN=OTEL_TOKEN,
                  OTEL_BSP_SCHEDULE_DELAY="100")
    with CliProcess("serve", "--agent", agent_file(tmp_path, fake_llm, collector), "--port", str(port),
                    env=env) as server:
        server.wait_for("Switchyard is ready on")
        traceparent = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
        reply = httpx.post(f"http://127.0.0.1:{port}/api/message-sync", timeout=60,
                           headers={"traceparent": traceparent},
                           json={"content": QUESTION, "sessionId": "trace-1"})
        assert reply.status_code == 200, reply.text
        assert reply.json()["response"] == ANSWER
        spans = collector.wait_for(lambda got: any(s.name == "POST /api/message-sync" for s in got))
        assert "telemetry: tracing turns as service 'switchyard-trace-test'" in server.output
        assert OTEL_TOKEN not in server.output

    turn = [s for s in spans if s.trace_id == TRACE_ID]
    by_name: dict[str, list] = {}
    for span in turn:
        by_name.setdefault(span.name, []).append(span)
    (http,) = by_name["POST /api/message-sync"]
    (run,) = by_name["agent.run"]
    llm_calls = by_name["llm.call"]
    (tool,) = by_name["tool.call"]
    # The tree: the caller's span -> the HTTP request -> the run -> its model and tool calls.
    assert http.parent_id == "00f067aa0ba902b7"
    assert run.parent_id == http.span_id
    assert len(llm_calls) == 2 and all(c.parent_id == run.span_id for c in llm_calls)
    assert tool.parent_id == run.span_id
    assert http.attributes["http.route"] == "/api/message-sync"
    assert http.attributes["http.response.status_code"] == 200
    assert run.attributes["switchyard.agent_id"] == "traced"
    assert run.attributes["switchyard.session_id"] == "trace-1"
    assert run.attributes["switchyard.finish_reason"] == "stop"
    assert run.attributes["llm.model"] == "fake-model"
    assert run.attributes["gen_ai.usage.input_tokens"] == sum(c.attributes["gen_ai.usage.input_tokens"]
                                                             for c in llm_calls) > 0
    assert all(c.attributes["llm.provider"] == "openai-compatible" and c.attributes["llm.model"] == "fake-model"
               and c.attributes["gen_ai.usage.output_tokens"] > 0 for c in llm_calls)
    assert sorted(c.attributes["llm.tool_calls"] for c in llm_calls) == [0, 1]
    assert tool.attributes["tool.name"] == "todo_write"
    assert tool.attributes["tool.outcome"] == "ok"
    assert http.resource["service.name"] == "switchyard-trace-test"
    # The exporter sent the configured header; no span carries content or a secret.
    assert any(h.get("authorization") == f"Bearer {OTEL_TOKEN}" for h in collector.headers)
    everything = json.dumps([[s.name, s.attributes, s.events, s.resource] for s in spans], default=str)
    for secret in SECRETS:
        assert secret not in everything
