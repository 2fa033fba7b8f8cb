"""A session's model context, apart from its history: start a fresh context, and name the
session from what was said.

clear-context keeps every message for the user (history, search) and starts the model's
context after the last one: the store's `start_context` (store/sessions.py) records where it
starts, `sessions.context_start_seq`, which a turn reads its messages from. Compaction reuses
the same primitive: append a summary message, then start the context at its sequence number.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from switchyard.config.schema import LLMConfig
from switchyard.errors import ConflictError, SwitchyardError
from switchyard.llm.base import LLMClient, TextDelta, content_to_text
from switchyard.runtime.runs import title_from
from switchyard.runtime.sessions import LiveSessions
from switchyard.store import Store

log = logging.getLogger("switchyard.agent")

TITLE_MAX = 80
TITLE_MESSAGES = 6          # the first messages of the conversation the title is made from
TITLE_CHARS = 2_000         # of each
TITLE_INSTRUCTIONS = ("You name conversations. Answer with a title of at most eight words for the "
                      "conversation below: no quotes, no final punctuation, nothing else.")


async def clear_context(agent_id: str, store: Store, live: LiveSessions, session_id: str) -> int:
    """Start a fresh model context for the session (409 `session_busy` while a turn runs: the
    turn holds the context it started with). Returns where the context now starts."""
    state = live.get(session_id)
    if state.busy or state.lock.locked():
        raise ConflictError(f"session {session_id} is busy with a run; clear its context when it ends",
                            code="session_busy")
    async with state.lock:
        return await store.sessions.start_context(agent_id, session_id)


def _transcript(history: list[dict[str, Any]]) -> str:
    lines = []
    for message in history:
        if message.get("role") not in ("user", "assistant"):
            continue
        text = content_to_text(message.get("content")).strip()
        if text:
            lines.append(f"{message['role']}: {text[:TITLE_CHARS]}")
        if len(lines) >= TITLE_MESSAGES:
            break
    return "\n\n".join(lines)


def _clean(title: str) -> str:
    first = next((line for line in title.strip().splitlines() if line.strip()), "")
    first = first.strip().strip("\"'`*#").strip().rstrip(".")
    return first[:TITLE_MAX].rstrip()


async def generate_title(history: list[dict[str, Any]], model_for: Callable[[], tuple[LLMClient, LLMConfig]]) -> str | None:
    """A title for a conversation, from the session's own model; when the model fails or
    says nothing usable, the first line of the first user message. None when nothing was said."""
    transcript = _transcript(history)
    if not transcript:
        return None
    try:
        client, _ = model_for()
        text = ""
        async for delta in client.stream([{"role": "user", "content": transcript}], [],
                                         system=TITLE_INSTRUCTIONS):
            if isinstance(delta, TextDelta):
                text += delta.text
        title = _clean(text)
        if title:
            return title
    except SwitchyardError as exc:   # the provider failed, or the session's model is unusable
        log.warning("title generation failed, using the first message: %s", exc)
    first_user = next((m for m in history if m.get("role") == "user"), None)
    return title_from(first_user.get("content")) if first_user else None
