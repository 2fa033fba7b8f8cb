"""Typed events of a run, named as the reference names them.

An event is a name, the session it belongs to, and a JSON-ready payload. On the wire (SSE
`data:`) it is the payload plus `name` and `sessionId`, as the reference sends it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

# The names Switchyard emits (a subset of the reference's 20 streaming events, plus routing).
LLM_THINKING = "llm:thinking"
LLM_CHUNK = "llm:chunk"
LLM_TOOL_CALL = "llm:tool-call"
TOOL_RUNNING = "tool:running"
LLM_TOOL_RESULT = "llm:tool-result"
LLM_RESPONSE = "llm:response"
LLM_ERROR = "llm:error"
LLM_RETRYING = "llm:retrying"
APPROVAL_REQUEST = "approval:request"
APPROVAL_RESPONSE = "approval:response"
SESSION_TITLE_UPDATED = "session:title-updated"
ROUTING_DECISION = "routing:decision"
RUN_COMPLETE = "run:complete"


@dataclass(frozen=True)
class Event:
    name: str
    session_id: str
    data: dict[str, Any] = field(default_factory=dict)
    timestamp: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "sessionId": self.session_id, **self.data}

    @property
    def is_terminal(self) -> bool:
        """The stream of a run ends after this event."""
        return self.name == RUN_COMPLETE
