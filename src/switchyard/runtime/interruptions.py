"""How a turn that did not end normally shows in a session's history (issue 17).

A stored message keeps the reference's fields (`finishReason` among them) and adds ours:

- `interrupted`: why the turn stopped early:
  - `"cancelled"`: the user cancelled it (finishReason `cancelled`);
  - `"upstream"`: the model's connection or provider failed mid-answer (finishReason `error`);
  - `"failed"`: something else failed mid-answer (a bug, the store; finishReason `error`);
  - `"lost"`: the turn ended with no answer stored at all: the server was killed or stopped
    mid-turn, or the model failed before it said anything. Found on the next turn of the
    session (and, for SQLite, when the agent starts) and marked then.
- `partial: true` on an answer cut short: its text is what the model had said until then.

The `lost` marker is an assistant message whose text says what happened, so the model sees it
too, and the next turn never sends two user messages in a row.
"""

from __future__ import annotations

from typing import Any

from switchyard.ids import new_id, now_ms

CANCELLED = "cancelled"
UPSTREAM = "upstream"
FAILED = "failed"
LOST = "lost"

LOST_TEXT = ("[No answer: this turn was interrupted before a reply was stored (the server stopped "
             "or the model failed). The user's message above was not answered.]")


def unanswered_marker() -> dict[str, Any]:
    """The message that stands for the answer a lost turn never gave."""
    return {"id": new_id(), "role": "assistant", "content": LOST_TEXT, "timestamp": now_ms(),
            "finishReason": "error", "interrupted": LOST}


def partial_answer(text: str, *, reason: str, model: str, provider: str,
                   usage: dict[str, int]) -> dict[str, Any]:
    """What the model had said when its turn was cancelled (reason `cancelled`), its
    connection failed (`upstream`) or something else failed (`failed`)."""
    return {"id": new_id(), "role": "assistant", "content": text, "timestamp": now_ms(),
            "model": model, "provider": provider,
            "finishReason": "cancelled" if reason == CANCELLED else "error",
            "interrupted": reason, "partial": True, "tokenUsage": usage}
