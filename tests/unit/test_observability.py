"""The `telemetry` block in the reference's shape, the error when the [otel] extra is missing,
and metrics across processes (prometheus-client's multiprocess mode, as `--workers N` uses it:
real processes writing into one PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from switchyard.config import parse_agent
from switchyard.errors import ConfigError
from switchyard.observability.instruments import NOTHING, TurnTelemetry, metrics_enabled
from tests.support.cli_process import SRC


def test_the_reference_telemetry_block_is_accepted():
    loaded = parse_agent({"agentId": "a", "telemetry": {
        "serviceName": "svc", "enabled": True, "tracerName": "tr",
        "export": {"type": "otlp", "protocol": "grpc", "endpoint": "collector:4317",
                   "headers": {"authorization": "Bearer x"}}}}, env={})
    telemetry = loaded.config.telemetry
    assert telemetry.enabled and telemetry.serviceName == "svc" and telemetry.tracerName == "tr"
    assert telemetry.export.protocol == "grpc" and telemetry.export.endpoint == "collector:4317"
    assert loaded.warnings == []
    console = parse_agent({"agentId": "a", "telemetry": {"enabled": True, "export": {"type": "console"}}}, env={})
    assert console.config.telemetry.export.type == "console"
    off = parse_agent({"agentId": "a", "telemetry": {"serviceName": "svc"}}, env={})
    assert off.config.telemetry.enabled is False      # as the reference: only `enabled: true` traces


@pytest.mark.parametrize("block, path", [
    ({"enabled": True, "export": {"type": "otlp", "endpoint": "not a url"}}, "telemetry.export.otlp.endpoint"),
    ({"enabled": True, "export": {"type": "zipkin"}}, "telemetry.export"),
    ({"enabled": True, "exporter": {"type": "console"}}, "telemetry.exporter"),
    ({"enabled": "sometimes"}, "telemetry.enabled"),
])
def test_a_bad_telemetry_block_names_its_field(block, path):
    with pytest.raises(ConfigError) as caught:
        parse_agent({"agentId": "a", "telemetry": block}, env={})
    paths = [issue.get("path", "") for issue in caught.value.details["issues"]]
    assert any(p.startswith(path) for p in paths), paths


def test_enabled_telemetry_without_the_extra_names_it(monkeypatch):
    from switchyard.config.telemetry_schema import TelemetryConfig
    from switchyard.observability import tracing
    for name in ("opentelemetry.sdk", "opentelemetry.sdk.trace", "opentelemetry.sdk.resources"):
        monkeypatch.setitem(sys.modules, name, None)   # import fails, as when not installed
    with pytest.raises(ConfigError) as caught:
        tracing._build_provider(TelemetryConfig(enabled=True))
    assert "pip install 'switchyard[otel]'" in caught.value.message
    assert caught.value.message.startswith("telemetry:")


def test_without_metrics_or_a_tracer_the_hooks_do_nothing(monkeypatch):
    from switchyard.observability import instruments
    monkeypatch.setattr(instruments, "_metrics", None)   # as in `switchyard run`: never turned on
    assert metrics_enabled() is None
    telemetry = TurnTelemetry("a")
    assert telemetry.run("s") is NOTHING
    assert telemetry.llm_call("p", "m") is NOTHING
    assert telemetry.tool_call("t", "c") is NOTHING


WORKER = textwrap.dedent("""
    import os, sys
    from switchyard.observability import metrics
    print(os.getpid())
    metrics.runs_started.labels("a").inc(int(sys.argv[1]))
    metrics.runs_active.labels("a").inc()
    metrics.llm_duration.labels("p", "m", "ok").observe(0.3)
    metrics.http.recorder("/api/x/{id}", "GET", 200)(0.02)
""")
SCRAPE = textwrap.dedent("""
    import sys
    from switchyard.observability import metrics
    for pid in sys.argv[1:]:
        metrics.mark_process_dead(int(pid))
    sys.stdout.write(metrics.exposition([metrics.gauge("x_pending", "scrape-time value", 7)]).decode())
""")


def test_metrics_of_several_worker_processes_add_up(tmp_path):
    from prometheus_client.parser import text_string_to_metric_families
    env = {"PYTHONPATH": SRC, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    pids = []
    for count in (2, 3):
        worker = subprocess.run([sys.executable, "-c", WORKER, str(count)], env=env, timeout=60,
                                capture_output=True, text=True)
        assert worker.returncode == 0, worker.stderr
        pids.append(worker.stdout.strip())

    def scrape(*dead: str) -> dict:
        out = subprocess.run([sys.executable, "-c", SCRAPE, *dead], env=env, timeout=60, capture_output=True,
                             text=True)
        assert out.returncode == 0, out.stderr
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(out.stdout) for s in family.samples}

    samples = scrape()
    assert samples[("switchyard_runs_started_total", (("agent", "a"),))] == 5
    assert samples[("switchyard_llm_call_duration_seconds_count",
                    (("model", "m"), ("outcome", "ok"), ("provider", "p")))] == 2
    assert samples[("x_pending", ())] == 7
    assert samples[("switchyard_http_requests_total", (("method", "GET"), ("route", "/api/x/{id}"),
                                                       ("status", "200")))] == 2
    assert samples[("switchyard_http_request_duration_seconds_bucket",
                    (("le", "0.025"), ("method", "GET"), ("route", "/api/x/{id}")))] == 2
    assert samples[("switchyard_runs_active", (("agent", "a"),))] == 2
    # The workers ended: their live gauges stop counting once the parent says so; counters stay.
    after = scrape(*pids)
    assert after.get(("switchyard_runs_active", (("agent", "a"),)), 0) == 0
    assert after[("switchyard_runs_started_total", (("agent", "a"),))] == 5


# Makes `opentelemetry.sdk` unimportable in a subprocess, as on a machine without the extra.
WITHOUT_OTEL = textwrap.dedent("""
    import sys
    class _Missing:
        def find_spec(self, name, path=None, target=None):
            if name == "opentelemetry.sdk" or name.startswith("opentelemetry.sdk."):
                raise ImportError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, _Missing())
""")


def test_serve_refuses_to_start_without_the_extra_naming_it(tmp_path):
    (tmp_path / "shim").mkdir()
    (tmp_path / "shim" / "sitecustomize.py").write_text(WITHOUT_OTEL)
    agent = tmp_path / "traced.yml"
    agent.write_text("agentId: traced\nllm: {provider: echo}\ntelemetry: {enabled: true}\n")
    env = {"PYTHONPATH": f"{tmp_path / 'shim'}:{SRC}", "SWITCHYARD_HOME": str(tmp_path / "home"),
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "switchyard.cli", "serve", "--agent", str(agent), "--port", "1"],
                         env=env, timeout=120, capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        f"error: {agent}: telemetry: tracing is enabled but opentelemetry.sdk is not installed: "
        "pip install 'switchyard[otel]'")
    assert "Traceback" not in out.stderr


def test_the_single_process_http_tallies_expose_what_prometheus_client_would():
    from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
    from switchyard.observability import metrics
    disable_created_metrics()    # as the server's metrics are: no `*_created` series
    tallies = metrics._HttpTallies()
    registry = CollectorRegistry()
    counter = Counter(*metrics.HTTP_REQUESTS, ["route", "method", "status"], registry=registry)
    histogram = Histogram(*metrics.HTTP_DURATION, ["route", "method"], buckets=metrics.HTTP_BUCKETS,
                          registry=registry)
    ours = CollectorRegistry()
    ours.register(tallies)
    for route, method, status, seconds in [("/a", "GET", 200, 0.001), ("/a", "GET", 200, 0.005),
                                           ("/a", "GET", 404, 0.0051), ("/b/{id}", "POST", 200, 301.0),
                                           ("/b/{id}", "POST", 200, 2.5)]:
        tallies.recorder(route, method, status)(seconds)
        counter.labels(route, method, str(status)).inc()
        histogram.labels(route, method).observe(seconds)
    assert generate_latest(ours) == generate_latest(registry)


def test_the_single_process_tallies_expose_what_prometheus_client_would():
    from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics,
                                   generate_latest)
    from switchyard.observability import tallies
    disable_created_metrics()    # as the server's metrics are: no `*_created` series
    made: list = []
    registry = CollectorRegistry()
    theirs = [Counter("x_runs", "runs", ["agent"], registry=registry),
              Gauge("x_active", "active", ["agent"], registry=registry),
              Histogram("x_seconds", "seconds", ["p", "m"], buckets=(0.1, 1.0, 2.5e6), registry=registry)]
    ours = [tallies.Counter("x_runs", "runs", ["agent"], registry=made),
            tallies.Gauge("x_active", "active", ["agent"], registry=made, multiprocess_mode="livesum"),
            tallies.Histogram("x_seconds", "seconds", ["p", "m"], buckets=(0.1, 1.0, 2.5e6), registry=made)]
    for metrics in (theirs, ours):
        runs, active, seconds = metrics
        runs.labels("a").inc()
        runs.labels("a").inc(41)
        runs.labels("b").inc(0.5)
        active.labels("a").inc()
        active.labels("a").inc(3)
        active.labels("a").dec()
        active.labels("idle")
        for value in (0.05, 0.1, 0.7, 3.0, 9e9):
            seconds.labels("p", "m").observe(value)
        with pytest.raises(ValueError):
            runs.labels("a").inc(-1)
    collected = CollectorRegistry()
    collected.register(tallies.Collector(made))
    assert generate_latest(collected).decode() == generate_latest(registry).decode()


SINGLE_PROCESS = textwrap.dedent("""
    import sys
    from switchyard.observability import metrics
    metrics.runs_started.labels("a").inc()
    metrics.http.recorder("/api/x", "GET", 200)(0.02)
    assert "prometheus_client" not in sys.modules, "imported before the first scrape"
    sys.stdout.write(metrics.exposition().decode())
""")


def test_a_single_process_imports_prometheus_client_at_its_first_scrape():
    out = subprocess.run([sys.executable, "-c", SINGLE_PROCESS], env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
                         timeout=60, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert 'switchyard_runs_started_total{agent="a"} 1.0' in out.stdout
    assert 'switchyard_http_requests_total{method="GET",route="/api/x",status="200"} 1.0' in out.stdout
    assert "process_resident_memory_bytes" in out.stdout   # prometheus-client's default collectors
