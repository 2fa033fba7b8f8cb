"""The in-memory working set of sessions: per-session locks, the running turn, last use.

History lives in the store; only sessions in use are held here. `maxSessions` bounds this
working set and `sessionTTL` evicts idle sessions from it. Eviction never loses anything:
an evicted session is read back from the store on its next use.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from switchyard.errors import LimitError
from switchyard.runtime.run import Run

# A kept history is bounded (maxSessions of them may be held): longer ones are read back.
HISTORY_CACHE_MAX_MESSAGES = 1000
HISTORY_CACHE_MAX_CHARS = 256 * 1024
# When compaction fits the context into a known window, that window bounds the kept history
# instead (about 3.6 characters a token, with room for a turn's growth), up to this size: a
# 128k window keeps up to 640 KB, and maxSessions such sessions 64 MB.
WINDOW_CHARS_PER_TOKEN = 5
WINDOW_CACHE_MAX_CHARS = 2 * 1024 * 1024


def _bounds(window: int | None) -> tuple[int, int]:
    """The most messages and characters a kept history may have, for a context window."""
    if window is None:
        return HISTORY_CACHE_MAX_MESSAGES, HISTORY_CACHE_MAX_CHARS
    chars = min(window * WINDOW_CHARS_PER_TOKEN, WINDOW_CACHE_MAX_CHARS)
    # Every message costs at least four tokens of framing (runtime/tokens.py).
    return max(HISTORY_CACHE_MAX_MESSAGES, window // 4), max(HISTORY_CACHE_MAX_CHARS, chars)


def _size(messages: list[dict[str, Any]]) -> int:
    """Roughly the characters a history holds (text content; other parts by their repr)."""
    total = 0
    for message in messages:
        content = message.get("content")
        total += len(content) if isinstance(content, str) else len(repr(content))
        if "toolCalls" in message:
            total += len(repr(message["toolCalls"]))
    return total


@dataclass
class LiveSession:
    id: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    run: Run | None = None
    waiters: int = 0
    owner: str | None = None        # the key whose turn last ran or waits here (pool fairness)
    last_used: float = field(default_factory=time.monotonic)
    # A per-session LLM override may carry an API key: it lives here, never in the store.
    llm_api_key: str | None = None
    # The history as the last turn run here left it, and the store's mark of that state
    # (createdAt, next sequence number, message count). A turn uses it instead of reading and
    # decoding every stored message (a fifth of the server's CPU per message on a session of a
    # few hundred messages, bench/http_bench.py) only when the mark it reads in the same
    # transaction as its user message is still the one kept: any other writer, on any
    # replica, moves the sequence or the count.
    history: list[dict[str, Any]] | None = None
    history_mark: tuple[Any, int, int] | None = None
    history_chars: int = 0
    # Its running token count (runtime/compaction.py RunningTotal), so a turn counts only
    # the messages it adds.
    history_total: Any = None
    # The list handed to the running turn, with its length and size then: the turn only
    # appends, so keeping it again sizes just the new messages (not the whole history).
    _lent: tuple[list[dict[str, Any]], int, int] | None = None

    def take_history(self, mark: tuple[Any, int, int]) -> list[dict[str, Any]] | None:
        """The kept history if it is still the stored one at `mark`; it is given away (a
        turn that fails part-way keeps nothing)."""
        history, self.history = self.history, None
        if history is None or self.history_mark != mark:
            self._lent = self.history_total = None
            return None
        self._lent = (history, len(history), self.history_chars)
        return history

    def keep_history(self, messages: list[dict[str, Any]], mark: tuple[Any, int, int], *,
                     rebuilt: bool = False, total: Any = None, window: int | None = None) -> None:
        """Keep the history a turn leaves, with its running token `total`; `rebuilt`: the turn
        replaced messages of the list (compaction), not only appended, so it is sized again.
        `window`: the context window compaction fits it into, which bounds it."""
        lent, self._lent = self._lent, None
        if lent is not None and lent[0] is messages and not rebuilt:
            chars = lent[2] + _size(messages[lent[1]:])
        else:
            chars = _size(messages)
        max_messages, max_chars = _bounds(window)
        if len(messages) <= max_messages and chars <= max_chars:
            self.history, self.history_mark, self.history_chars = messages, mark, chars
            self.history_total = total

    @property
    def busy(self) -> bool:
        return self.run is not None and not self.run.done

    @property
    def idle(self) -> bool:
        return not self.busy and self.waiters == 0 and not self.lock.locked()


class LiveSessions:
    def __init__(self, max_sessions: int, ttl_ms: int) -> None:
        self.max_sessions = max_sessions
        self.ttl = ttl_ms / 1000
        self._live: OrderedDict[str, LiveSession] = OrderedDict()

    def __len__(self) -> int:
        return len(self._live)

    def peek(self, session_id: str) -> LiveSession | None:
        return self._live.get(session_id)

    def get(self, session_id: str, *, owner: str | None = None) -> LiveSession:
        """The live state of a session, admitting it to the working set when needed. A named
        `owner` (an API key) admitting a session for a run may hold at most half the pool busy,
        so one key cannot starve the others (429); a pool whose every session is busy is 503."""
        live = self._live.get(session_id)
        if owner is not None and (live is None or live.idle):
            self._check_share(owner)
        if live is not None:
            live.last_used = time.monotonic()
            self._live.move_to_end(session_id)
            if owner is not None:
                live.owner = owner
            return live
        if len(self._live) >= self.max_sessions:
            # The least recently used idle session goes (the periodic sweep handles the TTL).
            self._evict_least_recent()
        live = LiveSession(session_id, owner=owner)
        self._live[session_id] = live
        return live

    @property
    def share(self) -> int:
        """How many busy sessions one key may hold: half the pool (at least one)."""
        return max(1, self.max_sessions // 2)

    def _check_share(self, owner: str) -> None:
        held = sum(1 for live in self._live.values() if live.owner == owner and not live.idle)
        if held >= self.share:
            raise LimitError(f"this API key already holds {held} of the {self.max_sessions} sessions "
                             "(sessions.maxSessions) busy, its fair share; try again when one of its runs "
                             "finishes", code="session_share_exceeded", status=429, retry_after=1,
                             details={"limit": self.share})

    def _evict_least_recent(self) -> None:
        for sid, live in self._live.items():
            if live.idle:
                del self._live[sid]
                return
        raise LimitError(f"all {self.max_sessions} sessions (sessions.maxSessions) are busy; "
                         "try again when a run finishes", code="session_max_sessions_exceeded",
                         status=503, retry_after=1, details={"limit": self.max_sessions})

    def sweep(self) -> int:
        """Evict idle sessions unused for longer than the TTL. Returns how many."""
        cutoff = time.monotonic() - self.ttl
        stale = [sid for sid, live in self._live.items() if live.idle and live.last_used < cutoff]
        for sid in stale:
            del self._live[sid]
        return len(stale)

    def drop(self, session_id: str) -> None:
        self._live.pop(session_id, None)

    def busy_ids(self) -> list[str]:
        return [sid for sid, live in self._live.items() if live.busy]

    def runs(self) -> list[Run]:
        return [live.run for live in self._live.values() if live.run and not live.run.done]

    def stats(self) -> dict[str, Any]:
        return {"live": len(self._live), "busy": len(self.busy_ids())}
