"""OpenTelemetry traces, when an agent file's `telemetry` block enables them (the `[otel]` extra).

One tracer provider per process, as in the reference: the first enabled `telemetry` block
builds it (its service name and exporter); a hosted agent whose block differs is traced
through the same provider, with a warning. Spans leave through a BatchSpanProcessor (a
background thread: exporting never waits in the event loop); `flush()` pushes what is
buffered, and the provider shuts down at process exit.

Nothing here is imported unless a block is enabled: without one, the server and the runtime
only ever test `current() is None`.
"""

from __future__ import annotations

import logging
from typing import Any

from switchyard.config.telemetry_schema import TelemetryConfig
from switchyard.errors import ConfigError
from switchyard.logs import register_secret

log = logging.getLogger("switchyard.telemetry")

DEFAULT_SERVICE = "switchyard"
EXTRA_HINT = "pip install 'switchyard[otel]'"

_provider: Any = None
_config: TelemetryConfig | None = None
_tracers: dict[str, Any] = {}


def current() -> Any:
    """The process's tracer provider, or None when no agent enabled telemetry."""
    return _provider


def tracer_for(config: TelemetryConfig | None, *, agent_id: str) -> Any:
    """The tracer of an agent (None when its block does not enable telemetry); builds the
    process's provider on first use. ConfigError naming the `[otel]` extra when it is missing."""
    global _provider, _config
    if config is None or not config.enabled:
        return None
    if _provider is None:
        _provider = _build_provider(config)
        _config = config
    elif config != _config:
        log.warning("agent %s: its telemetry block differs from the one this process already traces with "
                    "(service %r); one exporter per process: its turns are traced there",
                    agent_id, _service(_config))
    name = config.tracerName or _service(config)
    tracer = _tracers.get(name)
    if tracer is None:
        tracer = _tracers[name] = _provider.get_tracer(name)
    return tracer


def http_tracer() -> Any:
    """The tracer of the server's own spans (one per HTTP request), when tracing is on."""
    if _provider is None or _config is None:
        return None
    name = _config.tracerName or _service(_config)
    return _tracers.get(name) or tracer_for(_config, agent_id="")


def missing_extra(config: TelemetryConfig | None) -> str | None:
    """What `serve` says before it starts when a block enables tracing and the `[otel]`
    extra is not installed (None when nothing is missing)."""
    if config is None or not config.enabled:
        return None
    import importlib.util
    wanted = ["opentelemetry.sdk"]
    if config.export is not None and config.export.type == "otlp":
        wanted.append(f"opentelemetry.exporter.otlp.proto.{config.export.protocol}")
    for module in wanted:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"telemetry: tracing is enabled but {module} is not installed: {EXTRA_HINT}"
    return None


def flush(timeout_ms: int = 5000) -> None:
    if _provider is not None:
        _provider.force_flush(timeout_ms)


def _service(config: TelemetryConfig | None) -> str:
    return (config.serviceName if config is not None else None) or DEFAULT_SERVICE


def _build_provider(config: TelemetryConfig) -> Any:
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ConfigError(f"telemetry: tracing is enabled but OpenTelemetry is not installed ({exc.name} is "
                          f"missing): {EXTRA_HINT}") from None
    provider = TracerProvider(resource=Resource.create({"service.name": _service(config)}))
    provider.add_span_processor(BatchSpanProcessor(_exporter(config)))
    export = config.export
    where = (f"OTLP/{export.protocol} {export.endpoint or '(default endpoint)'}"
             if export is not None and export.type == "otlp" else "the console")
    log.info("telemetry: tracing turns as service %r to %s", _service(config), where)
    return provider


def _exporter(config: TelemetryConfig) -> Any:
    export = config.export
    if export is None or export.type == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter
        return ConsoleSpanExporter(service_name=_service(config))
    for value in export.headers.values():
        register_secret(value)       # an authorization header: never in a log line
    headers = dict(export.headers) or None
    endpoint = export.endpoint
    if export.protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc
        except ImportError:
            raise ConfigError("telemetry.export: protocol grpc needs the OTLP gRPC exporter "
                              f"(opentelemetry-exporter-otlp-proto-grpc): {EXTRA_HINT}") from None
        insecure = True if endpoint and endpoint.startswith("http://") else None
        return Grpc(endpoint=endpoint, headers=headers, insecure=insecure)
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http
    except ImportError:
        raise ConfigError("telemetry.export: protocol http needs the OTLP HTTP exporter "
                          f"(opentelemetry-exporter-otlp-proto-http): {EXTRA_HINT}") from None
    if endpoint and not endpoint.startswith(("http://", "https://")):
        endpoint = f"http://{endpoint}/v1/traces"       # host:port, as the reference accepts
    return Http(endpoint=endpoint, headers=headers)
