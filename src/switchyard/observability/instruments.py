"""What a turn reports about itself: a run, each model call, each tool call.

`TurnTelemetry` is one agent's: it counts into the Prometheus metrics when the server turned
them on (`enable_metrics`) and makes OpenTelemetry spans when the agent's `telemetry` block set
a tracer (observability/tracing.py). With neither, every hook returns one shared object that
does nothing: the turn pays a method call.

Spans carry ids, names, counts and outcomes: never message content, tool arguments or results,
or error messages (a tool's error can quote what it read).
"""

from __future__ import annotations

import functools
import logging
import time
from types import ModuleType
from typing import Any, Callable, TypeVar

log = logging.getLogger("switchyard.telemetry")
_F = TypeVar("_F", bound=Callable[..., Any])

_metrics: ModuleType | None = None


def enable_metrics() -> ModuleType:
    """Turn the Prometheus metrics on for this process (the server does, once)."""
    global _metrics
    if _metrics is None:
        from switchyard.observability import metrics
        _metrics = metrics
    return _metrics


def metrics_enabled() -> ModuleType | None:
    return _metrics


def queued(queue: str, change: int) -> None:
    """Messages entered (+) or left (-) a session queue (runtime/queues.py)."""
    if _metrics is not None and change:
        _metrics.queue_depth.labels(queue).inc(change)


def _never_raises(fn: _F) -> _F:
    """Recording what happened must never change what happens: a failure here is logged and
    the run goes on."""
    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception:  # noqa: BLE001
            log.exception("telemetry: recording %s failed", fn.__qualname__)
            return False
    return guarded  # type: ignore[return-value]


class _Nothing:
    """The hooks' answer when nothing is recorded."""

    def __enter__(self) -> "_Nothing":
        return self

    def __exit__(self, *exc: Any) -> bool:
        return False

    def done(self, *args: Any, **kwargs: Any) -> None:
        pass


NOTHING = _Nothing()


def _outcome(finish_reason: str) -> str:
    return finish_reason if finish_reason in ("cancelled", "error", "max-steps") else "completed"


class TurnTelemetry:
    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.tracer: Any = None    # set at agent start when its telemetry block enables tracing

    def run(self, session_id: str) -> "_RunScope | _Nothing":
        """The whole turn: started now, `done(result)` when it ends (in the run's own task)."""
        if _metrics is None and self.tracer is None:
            return NOTHING
        return _RunScope(self, session_id)

    def llm_call(self, provider: str, model: str) -> "_LLMScope | _Nothing":
        """`with` around one model call; `done(usage, finish_reason, tool_calls)` inside it."""
        if _metrics is None and self.tracer is None:
            return NOTHING
        return _LLMScope(self, provider, model)

    def tool_call(self, tool: str, call_id: str) -> "_ToolScope | _Nothing":
        """`with` around one tool call; `done(is_error)` inside it."""
        if _metrics is None and self.tracer is None:
            return NOTHING
        return _ToolScope(self, tool, call_id)


class _Span:
    """A span made current for the code inside it (its children nest under it)."""

    def __init__(self, tracer: Any, name: str, kind: str, attributes: dict[str, Any]) -> None:
        from opentelemetry import context, trace
        self.span = tracer.start_span(name, kind=getattr(trace.SpanKind, kind), attributes=attributes)
        self._token = context.attach(trace.set_span_in_context(self.span))

    def end(self, attributes: dict[str, Any], error: str | None) -> None:
        from opentelemetry import context, trace
        self.span.set_attributes(attributes)
        if error is not None:
            self.span.set_status(trace.Status(trace.StatusCode.ERROR, error))
        self.span.end()
        try:
            context.detach(self._token)
        except ValueError:   # ended from another context than it began in: nothing to restore
            pass


class _RunScope:
    def __init__(self, owner: TurnTelemetry, session_id: str) -> None:
        self.owner = owner
        if _metrics is not None:
            _metrics.runs_started.labels(owner.agent_id).inc()
            _metrics.runs_active.labels(owner.agent_id).inc()
        self.span = (_Span(owner.tracer, "agent.run", "INTERNAL",
                           {"switchyard.agent_id": owner.agent_id, "switchyard.session_id": session_id})
                     if owner.tracer is not None else None)

    @_never_raises
    def done(self, result: Any) -> None:
        outcome = _outcome(result.finish_reason)
        if _metrics is not None:
            _metrics.runs_active.labels(self.owner.agent_id).dec()
            _metrics.runs_finished.labels(self.owner.agent_id, outcome).inc()
        if self.span is not None:
            usage = result.usage
            self.span.end({"llm.provider": result.provider or "", "llm.model": result.model or "",
                           "gen_ai.usage.input_tokens": usage.input_tokens,
                           "gen_ai.usage.output_tokens": usage.output_tokens,
                           "switchyard.finish_reason": result.finish_reason, "switchyard.steps": result.steps},
                          result.error.error_type if result.error is not None else None)


class _LLMScope:
    def __init__(self, owner: TurnTelemetry, provider: str, model: str) -> None:
        self.owner, self.provider, self.model = owner, provider, model
        self.usage: Any = None
        self.attributes: dict[str, Any] = {}

    def __enter__(self) -> "_LLMScope":
        self.started = time.perf_counter()
        self.span = (_Span(self.owner.tracer, "llm.call", "CLIENT",
                           {"llm.provider": self.provider, "llm.model": self.model,
                            "gen_ai.system": self.provider, "gen_ai.request.model": self.model})
                     if self.owner.tracer is not None else None)
        return self

    def done(self, usage: Any, finish_reason: str, tool_calls: int) -> None:
        self.usage = usage
        self.attributes = {"gen_ai.usage.input_tokens": usage.input_tokens,
                           "gen_ai.usage.output_tokens": usage.output_tokens,
                           "llm.finish_reason": finish_reason, "llm.tool_calls": tool_calls}

    @_never_raises
    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        error = None if kind is None else kind.__name__
        if _metrics is not None:
            outcome = "ok" if error is None else "cancelled" if error == "CancelledError" else "error"
            _metrics.llm_duration.labels(self.provider, self.model, outcome).observe(
                time.perf_counter() - self.started)
            if self.usage is not None:
                _metrics.llm_tokens.labels(self.provider, self.model, "input").inc(self.usage.input_tokens)
                _metrics.llm_tokens.labels(self.provider, self.model, "output").inc(self.usage.output_tokens)
        if self.span is not None:
            self.span.end(self.attributes, error)
        return False


class _ToolScope:
    def __init__(self, owner: TurnTelemetry, tool: str, call_id: str) -> None:
        self.owner, self.tool, self.call_id = owner, tool, call_id
        self.outcome = "error"

    def __enter__(self) -> "_ToolScope":
        self.span = (_Span(self.owner.tracer, "tool.call", "INTERNAL",
                           {"tool.name": self.tool, "tool.call_id": self.call_id,
                            "switchyard.agent_id": self.owner.agent_id})
                     if self.owner.tracer is not None else None)
        return self

    def done(self, is_error: bool) -> None:
        self.outcome = "error" if is_error else "ok"

    @_never_raises
    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        if kind is not None:
            self.outcome = "cancelled" if kind.__name__ == "CancelledError" else "error"
        if _metrics is not None:
            _metrics.tool_calls.labels(self.owner.agent_id, self.tool, self.outcome).inc()
        if self.span is not None:
            self.span.end({"tool.outcome": self.outcome}, None if self.outcome == "ok" else self.outcome)
        return False
