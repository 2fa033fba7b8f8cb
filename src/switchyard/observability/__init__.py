"""What operators see: Prometheus metrics (metrics.py, served at GET /metrics) and
OpenTelemetry traces of turns (tracing.py, when an agent's `telemetry` block enables them).
The runtime reports through `instruments.TurnTelemetry`; the server adds its HTTP requests
(server/observability.py). See docs/observability.md."""
