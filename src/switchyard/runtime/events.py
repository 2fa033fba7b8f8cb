"""The event names as constants, for code not yet moved to the typed events of
switchyard/events.py (compare `event.name` with these, or better, use isinstance)."""

from switchyard.events import (ApprovalRequestEvent, ApprovalResponseEvent, ChunkEvent, ErrorEvent, Event,
                               ResponseEvent, RetryingEvent, RoutingDecisionEvent, RunCompleteEvent,
                               ThinkingEvent, TitleUpdatedEvent, ToolCallEvent, ToolResultEvent,
                               ToolRunningEvent)

LLM_THINKING = ThinkingEvent.name
LLM_CHUNK = ChunkEvent.name
LLM_TOOL_CALL = ToolCallEvent.name
TOOL_RUNNING = ToolRunningEvent.name
LLM_TOOL_RESULT = ToolResultEvent.name
LLM_RESPONSE = ResponseEvent.name
LLM_ERROR = ErrorEvent.name
LLM_RETRYING = RetryingEvent.name
APPROVAL_REQUEST = ApprovalRequestEvent.name
APPROVAL_RESPONSE = ApprovalResponseEvent.name
SESSION_TITLE_UPDATED = TitleUpdatedEvent.name
ROUTING_DECISION = RoutingDecisionEvent.name
RUN_COMPLETE = RunCompleteEvent.name

__all__ = ["Event", "LLM_THINKING", "LLM_CHUNK", "LLM_TOOL_CALL", "TOOL_RUNNING", "LLM_TOOL_RESULT",
           "LLM_RESPONSE", "LLM_ERROR", "LLM_RETRYING", "APPROVAL_REQUEST", "APPROVAL_RESPONSE",
           "SESSION_TITLE_UPDATED", "ROUTING_DECISION", "RUN_COMPLETE"]
