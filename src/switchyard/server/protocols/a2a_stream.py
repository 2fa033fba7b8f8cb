"""A run's activity as an A2A stream: status updates (working, input-required while a tool
call waits for approval, then how the run ended) and the answer as artifact chunks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from a2a.types import a2a_pb2 as pb
from google.protobuf.json_format import ParseDict

from switchyard.events import (ApprovalRequestEvent, ApprovalResponseEvent, ResponseEvent, RunCompleteEvent,
                               RunResult, ToolCallEvent, ToolRunningEvent)
from switchyard.runtime.activity import Finished, Quiet, TextPiece, result_from_end, run_activity
from switchyard.runtime.agent import Agent
from switchyard.runtime.run import Run
from switchyard.server.protocols.a2a_model import (APPROVAL_POLL_SECONDS, S, TaskTracker, approval_message,
                                                   outcome_message, outcome_of_result, status_of)
from switchyard.server.wire import keepalive_due


class RemoteRun:
    """A turn running on another replica, read from the shared turn stream
    (Agent.attach_anywhere): what `follow_run` needs of a Run. Its events are kept as they are
    read, so that approvals it waits for are seen (TaskTracker.pending_approvals)."""

    def __init__(self, events: AsyncIterator[Any]) -> None:
        self._events = events
        self.events: list[Any] = []
        self.result: RunResult | None = None    # set from its llm:response and run:complete
        self.done = False

    async def follow(self) -> AsyncIterator[Any]:
        answer: ResponseEvent | None = None
        async with aclosing(self._events) as events:
            async for event in events:
                self.events.append(event)
                if isinstance(event, ResponseEvent):
                    answer = event
                elif isinstance(event, RunCompleteEvent):
                    self.result = result_from_end(event, answer)
                yield event
        self.done = True


async def follow_run(tracker: TaskTracker, agent: Agent, run: Run | RemoteRun, sid: str, *,
                     announce_working: bool = True) -> AsyncIterator[pb.StreamResponse | None]:
    """A run's events as A2A status and artifact updates, ending with the final status.

    Text chunks stream into one artifact per model step; the last chunk of a step is held
    back one event so that it can carry `lastChunk`. None items are keep-alives."""
    if announce_working:
        yield status_event(sid, S.TASK_STATE_WORKING)
    artifact_id = f"{sid}-{uuid.uuid4().hex[:8]}"
    held: str | None = None
    chunks_sent = 0
    waiting = False

    def approval_change() -> pb.StreamResponse | None:
        """input-required when an approval starts waiting, working when none is left."""
        nonlocal waiting
        approvals = tracker.pending_approvals(agent, sid, run)
        if bool(approvals) == waiting:
            return None
        waiting = bool(approvals)
        return (status_event(sid, S.TASK_STATE_INPUT_REQUIRED, approval_message(sid, approvals))
                if waiting else status_event(sid, S.TASK_STATE_WORKING))

    def chunk(text: str, last: bool) -> pb.StreamResponse:
        nonlocal chunks_sent
        update = pb.TaskArtifactUpdateEvent(
            task_id=sid, context_id=sid, append=chunks_sent > 0, last_chunk=last,
            artifact=pb.Artifact(artifact_id=artifact_id, name="response", parts=[pb.Part(text=text)]))
        chunks_sent += 1
        return pb.StreamResponse(artifact_update=update)

    async with aclosing(run_activity(run, quiet_every=APPROVAL_POLL_SECONDS)) as activity:
        async for item in activity:
            if isinstance(item, Quiet):
                change = approval_change()
                if change is not None:
                    yield change
                if keepalive_due(item):
                    yield None
            elif isinstance(item, TextPiece):
                if held is not None:
                    yield chunk(held, False)
                held = item.text
            elif isinstance(item, ToolCallEvent):
                if held is not None:
                    yield chunk(held, True)
                    held = None
                if chunks_sent:
                    artifact_id, chunks_sent = f"{sid}-{uuid.uuid4().hex[:8]}", 0
                meta = {"switchyard": {"event": item.name, "toolName": item.tool_name,
                                       "callId": item.call_id}}
                yield status_event(sid, S.TASK_STATE_WORKING, metadata=meta)
            elif isinstance(item, (ApprovalRequestEvent, ApprovalResponseEvent)):
                change = approval_change()
                if change is not None:
                    yield change
            elif isinstance(item, ToolRunningEvent) and waiting:
                waiting = False
                yield status_event(sid, S.TASK_STATE_WORKING)
            elif isinstance(item, ResponseEvent):
                if held is not None:
                    yield chunk(held, True)
                    held = None
                elif not chunks_sent and item.content:
                    yield chunk(item.content, True)
            elif isinstance(item, Finished):
                if held is not None:
                    yield chunk(held, True)
                    held = None
                outcome = outcome_of_result(item.result)
                tracker.remember(agent, sid, outcome)
                yield status_event(sid, outcome.state, outcome_message(sid, outcome))
                return
    # The stream ended without the run's end: a replica running it died mid-turn.
    outcome = outcome_of_result(None)
    yield status_event(sid, outcome.state, outcome_message(sid, outcome))



def status_event(sid: str, state: int, message: pb.Message | None = None,
                  metadata: dict[str, Any] | None = None) -> pb.StreamResponse:
    update = pb.TaskStatusUpdateEvent(task_id=sid, context_id=sid, status=status_of(state, message))
    if metadata:
        ParseDict(metadata, update.metadata)
    return pb.StreamResponse(status_update=update)
