"""The Prometheus metrics of one server (`GET /metrics`, server/api/metrics.py).

Imported only when the server turns metrics on (`observability.enable_metrics()`): the CLI's
`run` and `chat` never load prometheus_client. A single server process keeps its values as plain
numbers (observability/tallies.py) and imports prometheus_client at its first scrape.

Every label has a bounded set of values: routes are templates (`/api/sessions/{sessionId}`),
never raw paths; methods outside the usual ones are `other`; a tool the model made up is
`unknown`; agents, providers and models are what the agent files configure.

Several processes (`switchyard serve --workers N`): prometheus-client's multiprocess mode. The
parent sets PROMETHEUS_MULTIPROC_DIR to an empty folder before any worker imports this module
(`prepare_multiprocess_dir`); each worker then writes its values to memory-mapped files there,
and a scrape answered by any worker adds them up (`exposition`). Gauges of things that are
held in a process's memory (runs in progress, queued messages) are `livesum`: the files of a
worker that died are dropped by `mark_process_dead(pid)`, which the parent calls.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Callable, Iterable

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_MULTIPROCESS = bool(os.environ.get(MULTIPROC_ENV))

if _MULTIPROCESS:   # the values live in the shared files prometheus-client's metrics write
    from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

    # No `*_created` series beside every counter and histogram: a timestamp per series that
    # dashboards do not use and that doubles what each scrape carries.
    disable_created_metrics()
else:               # one process: plain numbers, prometheus-client imported by the first scrape
    from switchyard.observability.tallies import Counter, Gauge, Histogram  # type: ignore[assignment]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds. HTTP: most answers take milliseconds; a streamed turn lasts as long as the turn.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# One model call: from the request to the last streamed token.
LLM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)

HTTP_REQUESTS = ("switchyard_http_requests", "HTTP requests answered, by route template, method and status")
HTTP_DURATION = ("switchyard_http_request_duration_seconds",
                 "Time from the request to the end of its response (a stream: its whole life)")
runs_started = Counter("switchyard_runs_started", "Agent runs (turns) started", ["agent"])
runs_finished = Counter("switchyard_runs_finished",
                        "Agent runs finished, by outcome: completed, max-steps, cancelled, error",
                        ["agent", "outcome"])
runs_active = Gauge("switchyard_runs_active", "Agent runs in progress", ["agent"], multiprocess_mode="livesum")
llm_tokens = Counter("switchyard_llm_tokens", "Tokens of model calls, by direction: input, output",
                     ["provider", "model", "direction"])
llm_duration = Histogram("switchyard_llm_call_duration_seconds",
                         "One model call of a turn, from the request to its last streamed token, by outcome: ok, error, cancelled",
                         ["provider", "model", "outcome"], buckets=LLM_BUCKETS)
tool_calls = Counter("switchyard_tool_calls", "Tool calls, by tool and outcome: ok, error, cancelled",
                     ["agent", "tool", "outcome"])
queue_depth = Gauge("switchyard_queued_messages", "Messages waiting in the sessions' queues: steer, follow-up",
                    ["queue"], multiprocess_mode="livesum")
rate_limited = Counter("switchyard_rate_limited",
                       "Requests refused for a limit (429), by reason: rate_limited (per key or address), "
                       "auth_throttled (failed authentications), too_many_runs (per key), queue_full, other",
                       ["reason"])

for _queue in ("steer", "follow-up"):   # present (at 0) from the first scrape on
    queue_depth.labels(_queue)


def _HttpTallies() -> Any:
    """The HTTP metrics of a single process (observability/tallies.py)."""
    from switchyard.observability.tallies import HttpTallies
    return HttpTallies(HTTP_REQUESTS, HTTP_DURATION, HTTP_BUCKETS)


class _HttpMetrics:
    """The same, through prometheus-client's metrics, when several processes add up
    (multiprocess mode keeps their values in shared files)."""

    def __init__(self) -> None:
        self.requests = Counter(*HTTP_REQUESTS, ["route", "method", "status"])
        self.durations = Histogram(*HTTP_DURATION, ["route", "method"], buckets=HTTP_BUCKETS)

    def recorder(self, route: str, method: str, status: int) -> Callable[[float], None]:
        count = self.requests.labels(route, method, str(status))
        duration = self.durations.labels(route, method)

        def record(seconds: float) -> None:
            count.inc()
            duration.observe(seconds)
        return record


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess_dir(path: str | None = None) -> str:
    """For a parent about to start workers, before any of them imports this module: an empty
    folder for the workers' metric files (a fresh temporary one unless `path` is given: values
    left by an earlier run would be added to this one's), exported as PROMETHEUS_MULTIPROC_DIR."""
    if path is None:
        path = tempfile.mkdtemp(prefix="switchyard-metrics-")
    else:
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path, exist_ok=True)
    os.environ[MULTIPROC_ENV] = path
    return path


def mark_process_dead(pid: int) -> None:
    """A worker ended: its live gauges (runs in progress, queued messages) stop counting."""
    if multiprocess_dir():
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(pid)


http: Any = _HttpMetrics() if _MULTIPROCESS else _HttpTallies()
_registered = False


def _registry() -> Any:
    """The registry a scrape reads: prometheus-client's default one (its process, platform and
    gc collectors), with this process's tallies registered on the first scrape; in
    multiprocess mode, the workers' files."""
    global _registered
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    if not _MULTIPROCESS and not _registered:
        from switchyard.observability.tallies import Collector
        REGISTRY.register(Collector())
        REGISTRY.register(http)
        _registered = True
    return REGISTRY


def exposition(extra: Iterable[Any] = ()) -> bytes:
    """The text a scrape gets: this process's metrics, or every worker's in multiprocess mode,
    then `extra` (GaugeMetricFamily values read at scrape time, the same from any worker)."""
    from prometheus_client import CollectorRegistry, generate_latest
    text = generate_latest(_registry())
    extra = list(extra)
    if extra:
        scrape = CollectorRegistry()
        scrape.register(_Fixed(extra))
        text += generate_latest(scrape)
    return text


def gauge(name: str, documentation: str, value: float) -> Any:
    from prometheus_client.core import GaugeMetricFamily
    return GaugeMetricFamily(name, documentation, value=value)


class _Fixed:
    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> list[Any]:
        return self.families
