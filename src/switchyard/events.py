"""The events of a run, as typed values: the language the core speaks.

A turn produces these; the server's adapters translate them (server/wire.py writes the
reference's SSE shape, the OpenAI and A2A adapters read them through runtime/activity.py);
the bus carries them between replicas (bus/codec.py). Each event holds Python values, never
a wire dict. `name` is the event's name as the reference names it (`llm:chunk`, ...), a
class attribute, so `event.name` works on every event.

This module sits below runtime/, tools/ and bus/ and imports none of them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from switchyard.llm.base import Usage


@dataclass(frozen=True)
class Event:
    """What every event has: the session it belongs to and when it happened (epoch seconds)."""

    name: ClassVar[str] = ""
    session_id: str
    timestamp: float = field(default_factory=time.time, kw_only=True)

    @property
    def is_terminal(self) -> bool:
        """The stream of a run ends after this event."""
        return False


@dataclass(frozen=True)
class ThinkingEvent(Event):
    """The turn started working (before the first model request)."""

    name: ClassVar[str] = "llm:thinking"


ChunkKind = Literal["text", "reasoning"]


@dataclass(frozen=True)
class ChunkEvent(Event):
    """A piece of the model's answer (`text`) or of its visible reasoning (`reasoning`)."""

    name: ClassVar[str] = "llm:chunk"
    kind: ChunkKind
    content: str


@dataclass(frozen=True)
class ToolCallEvent(Event):
    """The model asked for a tool call. `args` are the parsed arguments, or the raw argument
    string when it is not valid JSON (the call then fails and the model is told)."""

    name: ClassVar[str] = "llm:tool-call"
    tool_name: str
    call_id: str
    args: Any


@dataclass(frozen=True)
class ToolRunningEvent(Event):
    """A tool call passed its checks (approval) and is running."""

    name: ClassVar[str] = "tool:running"
    tool_name: str
    call_id: str


@dataclass(frozen=True)
class ToolResultEvent(Event):
    """A tool call ended. `content` is the tool's MCP-style parts; `error` its text on failure."""

    name: ClassVar[str] = "llm:tool-result"
    tool_name: str
    call_id: str
    success: bool
    content: list[dict[str, Any]]
    error: str | None = None

    def text(self) -> str:
        return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")


@dataclass(frozen=True)
class ResponseEvent(Event):
    """The turn's final answer, stored as message `message_id`."""

    name: ClassVar[str] = "llm:response"
    content: str
    provider: str
    model: str
    usage: Usage
    message_id: str
    finish_reason: str
    reasoning: str = ""


@dataclass(frozen=True)
class UpstreamFailure:
    """Which LLM provider failed, and with which HTTP status (None when there was none)."""

    provider: str | None
    status: int | None


@dataclass(frozen=True)
class ErrorEvent(Event):
    """The turn failed. `error_type` names the exception class; `upstream` is set when the
    failure came from the LLM provider."""

    name: ClassVar[str] = "llm:error"
    message: str
    error_type: str
    recoverable: bool = False
    upstream: UpstreamFailure | None = None


@dataclass(frozen=True)
class RetryingEvent(Event):
    """The LLM request failed transiently and is retried after `delay_ms`."""

    name: ClassVar[str] = "llm:retrying"
    attempt: int
    delay_ms: int
    message: str


@dataclass(frozen=True)
class ApprovalRequestEvent(Event):
    """A tool call waits for a person's approval. `requested_at` is an ISO-8601 time."""

    name: ClassVar[str] = "approval:request"
    approval_id: str
    tool_name: str
    tool_call_id: str
    args: Any
    timeout_ms: int | None
    requested_at: str


@dataclass(frozen=True)
class ApprovalResponseEvent(Event):
    """How an approval request ended: approved, denied or cancelled (and why)."""

    name: ClassVar[str] = "approval:response"
    approval_id: str
    status: str
    reason: str | None = None
    message: str | None = None
    timeout_ms: int | None = None   # set when the request timed out


@dataclass(frozen=True)
class TitleUpdatedEvent(Event):
    name: ClassVar[str] = "session:title-updated"
    title: str


@dataclass(frozen=True)
class TodoUpdateEvent(Event):
    """A todo_write call replaced the session's todo list (`todos`: the whole new list;
    `stats`: how many items were created, updated and deleted)."""

    name: ClassVar[str] = "todo:update"
    todos: list[dict[str, Any]]
    stats: dict[str, int]


@dataclass(frozen=True)
class ServiceEvent(Event):
    """Progress of work a tool runs on the session's behalf (the reference's `service:event`),
    e.g. a sub-agent started by spawn_agent: `service` names the tool family, `event` what
    happened, `data` its details."""

    name: ClassVar[str] = "service:event"
    service: str
    event: str
    tool_call_id: str | None
    data: dict[str, Any]


@dataclass(frozen=True)
class RoutedAgent:
    """One agent in a routing decision's ranking."""

    agent_id: str
    score: float
    layers: dict[str, float] = field(default_factory=dict)
    matched: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoutingDecisionEvent(Event):
    """The router sent this run's message to `agent_id` (the first event of a routed run).
    The fields are those of routing.RoutingDecision, copied so that this module (and the bus)
    need not import the router."""

    name: ClassVar[str] = "routing:decision"
    agent_id: str
    confidence: float
    layer: str
    reason: str
    sticky: bool = False
    fallback: bool = False
    latency_ms: float = 0.0
    ranked: tuple[RoutedAgent, ...] = ()

    def record(self) -> dict[str, Any]:
        """The decision as kept on the routed user message in history (`routing`), so that a
        client showing the conversation later (the web UI after a reload) can still say which
        agent answered and why: the reference's camelCase names, the five best candidates."""
        return {"agentId": self.agent_id, "confidence": round(self.confidence, 4), "layer": self.layer,
                "reason": self.reason, "sticky": self.sticky, "fallback": self.fallback,
                "ranked": [{"agentId": r.agent_id, "score": round(r.score, 4), "matched": list(r.matched)}
                           for r in self.ranked[:5]]}

    @classmethod
    def of(cls, session_id: str, decision: Any) -> "RoutingDecisionEvent":
        """From a routing.RoutingDecision."""
        return cls(session_id, decision.agent_id, decision.confidence, decision.layer, decision.reason,
                   decision.sticky, decision.fallback, decision.latency_ms,
                   tuple(RoutedAgent(r.agent_id, r.score, dict(r.layers), tuple(r.matched))
                         for r in decision.ranked))


@dataclass(frozen=True)
class RunCompleteEvent(Event):
    """The last event of every run, however it ended."""

    name: ClassVar[str] = "run:complete"
    finish_reason: str
    step_count: int
    duration_ms: int
    error: str | None = None

    @property
    def is_terminal(self) -> bool:
        return True


QueueName = Literal["steer", "follow-up"]


@dataclass(frozen=True)
class MessageQueuedEvent(Event):
    """A message was queued for the session: `steer` (into the running turn at its next step)
    or `follow-up` (a turn of its own after the running one). `position` is 1-based."""

    name: ClassVar[str] = "message:queued"
    queue: QueueName
    message_id: str
    position: int


@dataclass(frozen=True)
class MessageDequeuedEvent(Event):
    """Queued messages were taken: steer ones injected into the running turn, or a follow-up
    started its turn."""

    name: ClassVar[str] = "message:dequeued"
    queue: QueueName
    message_ids: tuple[str, ...]


@dataclass(frozen=True)
class ContextCompactedEvent(Event):
    """The conversation no longer fitted the model's window and was made to fit
    (runtime/compaction.py): `strategy` is `reactive-overflow` (the oldest part summarised into
    a stored summary message) or `drop-oldest` (left out of the request); `reason` is
    `overflow` (found before the request) or `provider-error` (the provider said it was too long)."""

    name: ClassVar[str] = "context:compacted"
    original_tokens: int
    compacted_tokens: int
    original_messages: int
    compacted_messages: int
    strategy: str
    reason: str
    summary_message_id: str | None = None


# Every event type, by name (the bus codec and tests look them up here).
EVENT_TYPES: dict[str, type[Event]] = {cls.name: cls for cls in (
    ThinkingEvent, ChunkEvent, ToolCallEvent, ToolRunningEvent, ToolResultEvent, ResponseEvent,
    ErrorEvent, RetryingEvent, ApprovalRequestEvent, ApprovalResponseEvent, TitleUpdatedEvent,
    RoutingDecisionEvent, RunCompleteEvent, MessageQueuedEvent, MessageDequeuedEvent,
    TodoUpdateEvent, ServiceEvent, ContextCompactedEvent)}


@dataclass(frozen=True)
class RunFailure:
    """Why a run failed: its error message, and the provider's status when the LLM failed."""

    message: str
    error_type: str = ""
    upstream: UpstreamFailure | None = None


@dataclass(frozen=True)
class RunResult:
    """How a run ended, set on the run by the turn before its run:complete event.

    `content` is None when the run produced no answer (cancelled, or failed: then `error`
    says why); `finish_reason` is the run's (stop, length, max-steps, cancelled, error, ...)."""

    session_id: str
    finish_reason: str
    content: str | None = None
    reasoning: str = ""
    usage: Usage = field(default_factory=Usage)
    message_id: str | None = None
    model: str | None = None
    provider: str | None = None
    error: RunFailure | None = None
    steps: int = 0
    duration_ms: int = 0

    @property
    def answered(self) -> bool:
        return self.content is not None
