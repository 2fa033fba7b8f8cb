"""The reference's wire encoding of run events, in one place.

`encode(event)` is the JSON object a Dexto client reads in an SSE `data:` line (the event's
name and session first, then its fields in the reference's names and order); `sse_frame`
wraps it in an `event:`/`data:` frame. `data_frame` writes the `data:`-only frames of the
OpenAI and A2A streams. Keep-alives: one comment frame, sent after `KEEPALIVE_SECONDS` of
silence (`keepalive_due`: the streams tick at different rates).
"""

from __future__ import annotations

import json
from typing import Any, Callable

from switchyard.events import (ApprovalRequestEvent, ApprovalResponseEvent, ChunkEvent, ContextCompactedEvent,
                               ErrorEvent, Event,
                               MessageDequeuedEvent, MessageQueuedEvent, ResponseEvent, RetryingEvent,
                               RoutingDecisionEvent, RunCompleteEvent, ServiceEvent,
                               ThinkingEvent, TitleUpdatedEvent, TodoUpdateEvent, ToolCallEvent, ToolResultEvent,
                               ToolRunningEvent)
from switchyard.runtime.activity import Quiet

KEEPALIVE_SECONDS = 15.0
KEEPALIVE_FRAME = b": keepalive\n\n"


def keepalive_due(quiet: Quiet) -> bool:
    """Whether a quiet stream owes its client a keep-alive now: one per KEEPALIVE_SECONDS of
    silence, whatever the rate at which the stream's quiet ticks come."""
    per = max(1, round(KEEPALIVE_SECONDS / quiet.every)) if quiet.every > 0 else 1
    return quiet.count % per == 0


def _compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


def data_frame(data: Any) -> bytes:
    """A `data:`-only SSE frame of compact JSON (OpenAI chunks, A2A stream results)."""
    return f"data: {_compact(data)}\n\n".encode()


def sse_frame(event: Event) -> bytes:
    """The reference's `event: <name>` / `data: <json>` frame of one run event."""
    return f"event: {event.name}\ndata: {_compact(encode(event))}\n\n".encode()


def encode(event: Event) -> dict[str, Any]:
    """The event as the reference's JSON object: `name`, `sessionId`, then its fields."""
    out: dict[str, Any] = {"name": event.name, "sessionId": event.session_id}
    fields = _ENCODERS[type(event)]
    fields(event, out)
    return out


def _thinking(e: ThinkingEvent, out: dict[str, Any]) -> None:
    pass


def _chunk(e: ChunkEvent, out: dict[str, Any]) -> None:
    out["chunkType"] = e.kind
    out["content"] = e.content


def _tool_call(e: ToolCallEvent, out: dict[str, Any]) -> None:
    out.update(toolName=e.tool_name, args=e.args, callId=e.call_id)


def _tool_running(e: ToolRunningEvent, out: dict[str, Any]) -> None:
    out.update(toolName=e.tool_name, toolCallId=e.call_id)


def _tool_result(e: ToolResultEvent, out: dict[str, Any]) -> None:
    out.update(toolName=e.tool_name, callId=e.call_id, success=e.success,
               sanitized={"content": e.content, "meta": {}})
    if e.error is not None:
        out["error"] = e.error


def _response(e: ResponseEvent, out: dict[str, Any]) -> None:
    out.update(content=e.content, provider=e.provider, model=e.model, tokenUsage=e.usage.to_dict(),
               messageId=e.message_id, finishReason=e.finish_reason)
    if e.reasoning:
        out["reasoning"] = e.reasoning


def _error(e: ErrorEvent, out: dict[str, Any]) -> None:
    out["error"] = {"message": e.message, "name": e.error_type}
    out["recoverable"] = e.recoverable
    if e.upstream is not None:
        out["context"] = {"provider": e.upstream.provider, "status": e.upstream.status}


def _retrying(e: RetryingEvent, out: dict[str, Any]) -> None:
    out.update(attempt=e.attempt, delayMs=e.delay_ms, error={"message": e.message})


def approval_payload(e: ApprovalRequestEvent) -> dict[str, Any]:
    """The reference's approval request object (also what GET /api/approvals lists)."""
    return {"approvalId": e.approval_id, "type": "tool_approval", "sessionId": e.session_id,
            "timeout": e.timeout_ms, "timestamp": e.requested_at,
            "metadata": {"toolName": e.tool_name, "toolCallId": e.tool_call_id, "args": e.args}}


def _approval_request(e: ApprovalRequestEvent, out: dict[str, Any]) -> None:
    out.update(approval_payload(e))


def _approval_response(e: ApprovalResponseEvent, out: dict[str, Any]) -> None:
    out.update(approvalId=e.approval_id, status=e.status, sessionId=e.session_id)
    if e.reason is not None:
        out["reason"] = e.reason
    if e.message is not None:
        out["message"] = e.message
    if e.timeout_ms is not None:
        out["timeoutMs"] = e.timeout_ms


def _title(e: TitleUpdatedEvent, out: dict[str, Any]) -> None:
    out["title"] = e.title


def _todos(e: TodoUpdateEvent, out: dict[str, Any]) -> None:
    out.update(todos=e.todos, stats=e.stats)


def _service(e: ServiceEvent, out: dict[str, Any]) -> None:
    out.update(service=e.service, event=e.event)
    if e.tool_call_id is not None:
        out["toolCallId"] = e.tool_call_id
    out["data"] = e.data


def routing_payload(e: RoutingDecisionEvent) -> dict[str, Any]:
    """The decision as POST /api/route and the message-sync `routing` field show it."""
    ranked = []
    for entry in e.ranked:
        item: dict[str, Any] = {"agentId": entry.agent_id, "score": round(entry.score, 4),
                                "scores": {k: round(v, 4) for k, v in entry.layers.items()}}
        if entry.matched:
            item["matched"] = list(entry.matched)
        ranked.append(item)
    return {"agentId": e.agent_id, "confidence": round(e.confidence, 4), "layer": e.layer,
            "reason": e.reason, "sticky": e.sticky, "fallback": e.fallback,
            "latencyMs": round(e.latency_ms, 3), "ranked": ranked}


def _routing(e: RoutingDecisionEvent, out: dict[str, Any]) -> None:
    out.update(routing_payload(e))


def _run_complete(e: RunCompleteEvent, out: dict[str, Any]) -> None:
    out.update(finishReason=e.finish_reason, stepCount=e.step_count, durationMs=e.duration_ms)
    if e.error is not None:
        out["error"] = {"message": e.error}


def _queued(e: MessageQueuedEvent, out: dict[str, Any]) -> None:
    out.update(queue=e.queue, id=e.message_id, position=e.position)


def _dequeued(e: MessageDequeuedEvent, out: dict[str, Any]) -> None:
    out.update(queue=e.queue, ids=list(e.message_ids), count=len(e.message_ids))


def _compacted(e: ContextCompactedEvent, out: dict[str, Any]) -> None:
    out.update(originalTokens=e.original_tokens, compactedTokens=e.compacted_tokens,
               originalMessages=e.original_messages, compactedMessages=e.compacted_messages,
               strategy=e.strategy, reason=e.reason)
    if e.summary_message_id is not None:
        out["summaryMessageId"] = e.summary_message_id


_ENCODERS: dict[type[Event], Callable[[Any, dict[str, Any]], None]] = {
    ThinkingEvent: _thinking, ChunkEvent: _chunk, ToolCallEvent: _tool_call,
    ToolRunningEvent: _tool_running, ToolResultEvent: _tool_result, ResponseEvent: _response,
    ErrorEvent: _error, RetryingEvent: _retrying, ApprovalRequestEvent: _approval_request,
    ApprovalResponseEvent: _approval_response, TitleUpdatedEvent: _title, TodoUpdateEvent: _todos,
    ServiceEvent: _service,
    RoutingDecisionEvent: _routing, RunCompleteEvent: _run_complete,
    MessageQueuedEvent: _queued, MessageDequeuedEvent: _dequeued, ContextCompactedEvent: _compacted,
}
