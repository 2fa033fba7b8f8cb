"""Typed run events: the reference's wire encoding (server/wire.py), the bus codec
(bus/codec.py), the run-activity transformer the adapters share, and a run's RunResult."""

from __future__ import annotations

import asyncio
import json

import pytest

from switchyard.bus import codec
from switchyard.events import (EVENT_TYPES, ApprovalRequestEvent, ApprovalResponseEvent, ChunkEvent,
                               ContextCompactedEvent,
                               ErrorEvent, MessageDequeuedEvent, MessageQueuedEvent, ResponseEvent, RetryingEvent,
                               RoutedAgent, RoutingDecisionEvent, RunCompleteEvent, RunFailure, RunResult,
                               ServiceEvent, ThinkingEvent, TitleUpdatedEvent, TodoUpdateEvent,
                               ToolCallEvent, ToolResultEvent, ToolRunningEvent, UpstreamFailure)
from switchyard.llm.base import Usage
from switchyard.routing.decision import AgentScore, RoutingDecision
from switchyard.runtime.activity import Finished, Quiet, TextPiece, run_activity
from switchyard.runtime.results import RunFailed, answer_of, result_of
from switchyard.runtime.run import Run
from switchyard.server.wire import (KEEPALIVE_FRAME, approval_payload, data_frame, encode, keepalive_due,
                                    routing_payload, sse_frame)

SID = "s1"
USAGE = Usage(input_tokens=11, output_tokens=6, reasoning_tokens=2)
DECISION = RoutingDecision("devops", 0.98851, "combined", "devops ranks first",
                           [AgentScore("devops", 0.98851, {"rules": 0.75, "lexical": 0.99591},
                                       ["kubernetes"]), AgentScore("general", 0.2308, {"rules": 0.0})],
                           latency_ms=1.23456)

# One of each event, with the JSON object a Dexto client reads for it (key order included).
CASES = [
    (ThinkingEvent(SID), {"name": "llm:thinking", "sessionId": SID}),
    (ChunkEvent(SID, "text", "Hel"),
     {"name": "llm:chunk", "sessionId": SID, "chunkType": "text", "content": "Hel"}),
    (ChunkEvent(SID, "reasoning", "hmm"),
     {"name": "llm:chunk", "sessionId": SID, "chunkType": "reasoning", "content": "hmm"}),
    (ToolCallEvent(SID, "add", "c1", {"a": 1}),
     {"name": "llm:tool-call", "sessionId": SID, "toolName": "add", "args": {"a": 1}, "callId": "c1"}),
    (ToolRunningEvent(SID, "add", "c1"),
     {"name": "tool:running", "sessionId": SID, "toolName": "add", "toolCallId": "c1"}),
    (ToolResultEvent(SID, "add", "c1", True, [{"type": "text", "text": "3"}]),
     {"name": "llm:tool-result", "sessionId": SID, "toolName": "add", "callId": "c1", "success": True,
      "sanitized": {"content": [{"type": "text", "text": "3"}], "meta": {}}}),
    (ToolResultEvent(SID, "add", "c1", False, [{"type": "text", "text": "boom"}], "boom"),
     {"name": "llm:tool-result", "sessionId": SID, "toolName": "add", "callId": "c1", "success": False,
      "sanitized": {"content": [{"type": "text", "text": "boom"}], "meta": {}}, "error": "boom"}),
    (ResponseEvent(SID, "Hello", "echo", "echo-1", USAGE, "m1", "stop", "because"),
     {"name": "llm:response", "sessionId": SID, "content": "Hello", "provider": "echo", "model": "echo-1",
      "tokenUsage": {"inputTokens": 11, "outputTokens": 6, "reasoningTokens": 2, "cacheReadTokens": 0,
                     "cacheWriteTokens": 0, "totalTokens": 17},
      "messageId": "m1", "finishReason": "stop", "reasoning": "because"}),
    (ErrorEvent(SID, "bad key", "LLMError", upstream=UpstreamFailure("openai", 401)),
     {"name": "llm:error", "sessionId": SID, "error": {"message": "bad key", "name": "LLMError"},
      "recoverable": False, "context": {"provider": "openai", "status": 401}}),
    (ErrorEvent(SID, "oops", "RuntimeError"),
     {"name": "llm:error", "sessionId": SID, "error": {"message": "oops", "name": "RuntimeError"},
      "recoverable": False}),
    (RetryingEvent(SID, 1, 250, "429"),
     {"name": "llm:retrying", "sessionId": SID, "attempt": 1, "delayMs": 250, "error": {"message": "429"}}),
    (ApprovalRequestEvent(SID, "ap1", "rm", "c9", {"path": "/x"}, 5000, "2026-12-01T10:00:00+00:00"),
     {"name": "approval:request", "sessionId": SID, "approvalId": "ap1", "type": "tool_approval",
      "timeout": 5000, "timestamp": "2026-12-01T10:00:00+00:00",
      "metadata": {"toolName": "rm", "toolCallId": "c9", "args": {"path": "/x"}}}),
    (ApprovalResponseEvent(SID, "ap1", "cancelled", "timeout", "timed out", 100),
     {"name": "approval:response", "sessionId": SID, "approvalId": "ap1", "status": "cancelled",
      "reason": "timeout", "message": "timed out", "timeoutMs": 100}),
    (ApprovalResponseEvent(SID, "ap1", "approved"),
     {"name": "approval:response", "sessionId": SID, "approvalId": "ap1", "status": "approved"}),
    (TitleUpdatedEvent(SID, "Trip"), {"name": "session:title-updated", "sessionId": SID, "title": "Trip"}),
    (TodoUpdateEvent(SID, [{"id": "t1", "content": "Fix it", "activeForm": "Fixing it", "status": "pending"}],
                     {"created": 1, "updated": 0, "deleted": 0}),
     {"name": "todo:update", "sessionId": SID,
      "todos": [{"id": "t1", "content": "Fix it", "activeForm": "Fixing it", "status": "pending"}],
      "stats": {"created": 1, "updated": 0, "deleted": 0}}),
    (ServiceEvent(SID, "agent-spawner", "progress", "call-1", {"agentId": "explore-agent", "toolName": "read_file"}),
     {"name": "service:event", "sessionId": SID, "service": "agent-spawner", "event": "progress",
      "toolCallId": "call-1", "data": {"agentId": "explore-agent", "toolName": "read_file"}}),
    (RoutingDecisionEvent.of(SID, DECISION),
     {"name": "routing:decision", "sessionId": SID, **DECISION.to_dict()}),
    (RunCompleteEvent(SID, "stop", 2, 40),
     {"name": "run:complete", "sessionId": SID, "finishReason": "stop", "stepCount": 2, "durationMs": 40}),
    (RunCompleteEvent(SID, "error", 1, 5, "bad key"),
     {"name": "run:complete", "sessionId": SID, "finishReason": "error", "stepCount": 1, "durationMs": 5,
      "error": {"message": "bad key"}}),
    (MessageQueuedEvent(SID, "steer", "q1", 2),
     {"name": "message:queued", "sessionId": SID, "queue": "steer", "id": "q1", "position": 2}),
    (MessageDequeuedEvent(SID, "follow-up", ("q1", "q2")),
     {"name": "message:dequeued", "sessionId": SID, "queue": "follow-up", "ids": ["q1", "q2"], "count": 2}),
    (ContextCompactedEvent(SID, 9000, 2100, 120, 9, "reactive-overflow", "overflow", "m7"),
     {"name": "context:compacted", "sessionId": SID, "originalTokens": 9000, "compactedTokens": 2100,
      "originalMessages": 120, "compactedMessages": 9, "strategy": "reactive-overflow", "reason": "overflow",
      "summaryMessageId": "m7"}),
]


def test_every_event_type_has_a_case():
    assert {type(event) for event, _ in CASES} == set(EVENT_TYPES.values())


@pytest.mark.parametrize("event, wire", CASES, ids=[f"{e.name}-{i}" for i, (e, _) in enumerate(CASES)])
def test_wire_encoding_is_the_references_object_in_its_key_order(event, wire):
    assert list(encode(event).items()) == list(wire.items())


def test_sse_and_data_frames_are_compact_json():
    assert sse_frame(ChunkEvent(SID, "text", "a b")) == (
        b'event: llm:chunk\ndata: {"name":"llm:chunk","sessionId":"s1","chunkType":"text","content":"a b"}\n\n')
    assert data_frame({"a": [1, 2]}) == b'data: {"a":[1,2]}\n\n'
    assert KEEPALIVE_FRAME == b": keepalive\n\n"


def test_payloads_shared_with_other_routes():
    request = CASES[11][0]
    assert approval_payload(request) == {k: v for k, v in CASES[11][1].items() if k != "name"}
    assert routing_payload(RoutingDecisionEvent.of(SID, DECISION)) == DECISION.to_dict()


def test_keepalive_is_due_every_fifteen_seconds_of_silence_at_any_tick_rate():
    assert all(keepalive_due(Quiet(15.0, n)) for n in (1, 2, 3))
    due = [n for n in range(1, 200) if keepalive_due(Quiet(0.25, n))]
    assert due == [60, 120, 180]


@pytest.mark.parametrize("event", [e for e, _ in CASES], ids=[e.name for e, _ in CASES])
def test_bus_codec_round_trips_every_event(event):
    text = codec.dumps(event)
    json.loads(text)  # plain JSON, readable by any replica
    assert codec.loads(text) == event


def test_bus_codec_refuses_an_unknown_event():
    with pytest.raises(KeyError):
        codec.loads(json.dumps({"event": "from:the-future", "fields": {"session_id": SID}}))


# --- the run-activity transformer ---------------------------------------------------------

def finished_run(*events, result: RunResult | None = None) -> Run:
    run = Run(SID)
    for event in events:
        run.publish(event)
    run.result = result
    run.finish()
    return run


async def activity_of(run: Run, **options):
    return [item async for item in run_activity(run, **options)]


async def test_activity_keeps_answer_text_tools_and_the_result():
    answer = ResponseEvent(SID, "Hi there", "echo", "echo", USAGE, "m1", "stop")
    call, result_event = ToolCallEvent(SID, "add", "c1", {}), ToolResultEvent(SID, "add", "c1", True, [])
    running = ToolRunningEvent(SID, "add", "c1")
    result = RunResult(SID, "stop", content="Hi there", usage=USAGE, message_id="m1")
    run = finished_run(RoutingDecisionEvent.of(SID, DECISION), ThinkingEvent(SID),
                       ChunkEvent(SID, "reasoning", "think"), call, running,
                       result_event, ChunkEvent(SID, "text", "Hi "), ChunkEvent(SID, "text", ""),
                       ChunkEvent(SID, "text", "there"), answer, RunCompleteEvent(SID, "stop", 2, 9),
                       result=result)
    items = await activity_of(run)
    assert items == [call, running, result_event, TextPiece("Hi "), TextPiece("there"), answer,
                     Finished(result)]


async def test_activity_ends_at_run_complete_even_without_a_recorded_result():
    run = finished_run(ThinkingEvent(SID), RunCompleteEvent(SID, "error", 1, 3, "boom"),
                       ChunkEvent(SID, "text", "never read"))
    [finished] = await activity_of(run)
    assert finished == Finished(RunResult(SID, "error", error=RunFailure("boom"), steps=1, duration_ms=3))


async def test_activity_reports_quiet_intervals_while_the_run_is_silent():
    run = Run(SID)
    run.publish(ThinkingEvent(SID))

    async def later() -> None:
        await asyncio.sleep(0.35)
        run.publish(ChunkEvent(SID, "text", "late"))
        run.result = RunResult(SID, "stop", content="late")
        run.publish(RunCompleteEvent(SID, "stop", 1, 350))
        run.finish()

    task = asyncio.create_task(later())
    items = await activity_of(run, quiet_every=0.1)
    await task
    quiet = [i for i in items if isinstance(i, Quiet)]
    assert [q.count for q in quiet] == list(range(1, len(quiet) + 1)) and len(quiet) >= 2
    assert quiet[-1].seconds == pytest.approx(0.1 * len(quiet))
    assert items[-2:] == [TextPiece("late"), Finished(RunResult(SID, "stop", content="late"))]


# --- RunResult ------------------------------------------------------------------------------

def test_result_of_an_answered_run_is_the_message_sync_body():
    result = RunResult(SID, "stop", content="Hello", reasoning="why", usage=USAGE, message_id="m1",
                       model="echo", provider="echo")
    run = finished_run(result=result)
    assert answer_of(result) is result
    assert result_of(run) == {"response": "Hello", "sessionId": SID, "tokenUsage": USAGE.to_dict(),
                              "messageId": "m1", "model": "echo", "provider": "echo", "reasoning": "why",
                              "finishReason": "stop"}


def test_a_failed_run_raises_its_error_with_the_providers_context():
    failed = RunResult(SID, "error", error=RunFailure("bad key", "LLMError", UpstreamFailure("openai", 401)))
    with pytest.raises(RunFailed) as info:
        answer_of(failed)
    assert info.value.message == "bad key" and info.value.details == {"provider": "openai", "status": 401}
    assert info.value.status == 502 and info.value.code == "run_failed"


def test_a_cancelled_run_has_no_answer():
    with pytest.raises(RunFailed, match=r"without an answer \(cancelled\)"):
        answer_of(RunResult(SID, "cancelled"))
    with pytest.raises(RunFailed, match="unknown"):
        answer_of(None)


def test_routing_event_copies_the_decision():
    event = RoutingDecisionEvent.of(SID, DECISION)
    assert event.agent_id == "devops" and event.layer == "combined"
    assert event.ranked[0] == RoutedAgent("devops", 0.98851, {"rules": 0.75, "lexical": 0.99591}, ("kubernetes",))
