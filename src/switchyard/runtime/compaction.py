"""Keeping a conversation inside the model's context window (the agent's `compaction`).

Before each model request the fitter counts it (runtime/tokens.py): system prompt, tool
schemas and messages. When that exceeds `thresholdPercent` of the window less the answer's
reserve:

* `reactive-overflow` summarises the oldest messages with the session's own model (or the
  configured `compaction.llm`, a cheaper one) into one summary message, stored
  (store/sessions.py `compact`) and kept at the head of the context; the newest messages,
  about half the budget, stay verbatim. The summary is reused by every later turn until the
  context outgrows the window again (the next summary covers the old one).
* `noop`, `enabled: false`, or a summary that could not be made: the oldest messages are left
  out of this request (nothing is stored), with a marker saying so.

A cut never falls between an assistant's tool calls and their results: only before a message
that is not a tool result. The user's history keeps every message; what changes is where the
model's context starts (`sessions.context_start_seq`). A provider that still answers "context
length exceeded" gets one more, tighter fit and a retry (`is_context_overflow`).

Cost per turn: a `RunningTotal` kept with the session's history counts only the new messages;
the whole context is looked at only when it no longer fits (bench/compaction_bench.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from switchyard.config.schema import CompactionConfig, LLMConfig
from switchyard.errors import LLMError, SwitchyardError
from switchyard.events import ContextCompactedEvent
from switchyard.ids import new_id, now_ms
from switchyard.llm.base import LLMClient, TextDelta, ToolSpec, content_to_text
from switchyard.llm.catalog import max_input_tokens
from switchyard.runtime.tokens import TokenCounter, counter_key, make_counter
from switchyard.store.sessions import is_summary

log = logging.getLogger("switchyard.agent")

ANSWER_RESERVE_MAX = 4096     # tokens kept free for the answer when llm.maxOutputTokens is unset
PROVIDER_ERROR_SHRINK = 0.7   # after "too long" from the provider: aim this far below our count
BULK_COUNT_IN_THREAD = 256    # uncached messages counted in a worker thread past this many
SUMMARY_LINE_CHARS = 2_000    # of each message in the transcript the model summarises
SUMMARY_PREFIX = "Summary of the earlier conversation (those messages are no longer in your context):\n\n"
SUMMARY_INSTRUCTIONS = (
    "You compress conversations. Summarise the conversation below so that an assistant can carry "
    "on from it without the original: the user's goals and preferences, facts and decisions, what "
    "tools were called and what they found, open questions and unfinished work. Be concise and "
    "factual; write the summary only.")
_OVERFLOW_PHRASES = ("context_length_exceeded", "context length", "context window", "prompt is too long",
                     "maximum context", "too many tokens", "input is too long")

StoreSummary = Callable[[dict[str, Any], str | None], Awaitable[None]]


def is_context_overflow(exc: BaseException) -> bool:
    """The provider refused the request as longer than the model's window (OpenAI: 400 with
    code `context_length_exceeded`; Anthropic: 400 "prompt is too long")."""
    if not isinstance(exc, LLMError) or exc.upstream_status not in (400, 413, None):
        return False
    text = exc.message.lower()
    return any(phrase in text for phrase in _OVERFLOW_PHRASES)


def _cut(messages: list[dict[str, Any]], counts: list[int], target: int) -> int:
    """The earliest index to keep from so that the kept messages fit `target` tokens, only
    before a message that is not a tool result (a tool call stays with its results). The last
    such block is kept even when it alone is larger."""
    kept, cut, last_boundary = 0, len(messages), None
    for i in range(len(messages) - 1, -1, -1):
        kept += counts[i]
        if messages[i].get("role") == "tool":
            continue
        if last_boundary is None:
            last_boundary = i
        if kept > target:
            break
        cut = i
    if cut == len(messages):
        return last_boundary if last_boundary is not None else 0
    return cut


def _turn_start(messages: list[dict[str, Any]], turns: int) -> int:
    """Where the last `turns` turns start (their first user message); len(messages) for 0."""
    start = len(messages)
    for i in range(len(messages) - 1, -1, -1):
        if turns <= 0:
            break
        if messages[i].get("role") == "user":
            start, turns = i, turns - 1
    return start


def _transcript(messages: list[dict[str, Any]], max_chars: int) -> str:
    lines = []
    for m in messages:
        text = content_to_text(m.get("content")).strip()
        if is_summary(m):
            lines.append(f"[summary of what came before]\n{text.removeprefix(SUMMARY_PREFIX.strip()).strip()}")
            continue
        role = m.get("role")
        if role == "tool":
            lines.append(f"tool {m.get('name') or ''} result: {text[:SUMMARY_LINE_CHARS]}")
            continue
        if text:
            lines.append(f"{role}: {text[:SUMMARY_LINE_CHARS]}")
        for call in m.get("toolCalls") or []:
            function = call.get("function") or {}
            lines.append(f"assistant called {function.get('name')}({str(function.get('arguments'))[:500]})")
    # Too long for one request: the first line (an earlier summary) and the newest lines.
    head, tail, size = lines[:1], [], len(lines[0]) if lines else 0
    for line in reversed(lines[1:]):
        if size + len(line) > max_chars:
            break
        tail.append(line)
        size += len(line)
    return "\n\n".join(head + tail[::-1])


@dataclass
class RunningTotal:
    """The tokens of a turn's message list counted so far: `messages[:counted]` make `tokens`
    by counter `key`. Kept with the session's history (runtime/sessions.py), so a later turn
    counts only its new messages: no pass over the history per turn, only at a compaction."""

    key: str | None = None
    counted: int = 0
    tokens: int = 0


SummaryModel = Callable[[], "tuple[LLMClient, LLMConfig] | None"]


class ContextFitter:
    """Fits one request into the window; one per agent (it holds the token counters, whose
    caches are by message id). `summary_model`: the configured model for summaries
    (`compaction.llm`), None for the session's own."""

    def __init__(self, config: CompactionConfig, counter: TokenCounter | None = None,
                 summary_model: SummaryModel | None = None) -> None:
        self.config = config
        self.summary_model = summary_model
        self._counters: dict[str, TokenCounter] = {counter.key: counter} if counter is not None else {}
        self._fixed: TokenCounter | None = counter   # a counter given by the caller serves every model

    def window(self, client: LLMClient, cfg: LLMConfig) -> int | None:
        return (self.config.maxContextTokens or cfg.maxInputTokens
                or max_input_tokens(client.provider, client.model))

    async def counter(self, client: LLMClient) -> TokenCounter:
        """The counter for the client's model family (OpenAI's tokenizer is loaded once, off
        the event loop)."""
        if self._fixed is not None:
            return self._fixed
        key = counter_key(client.provider, client.model)
        found = self._counters.get(key)
        if found is None:
            found = self._counters.setdefault(key, await asyncio.to_thread(make_counter, key))
        return found

    async def _count_new(self, counter: TokenCounter, messages: list[dict[str, Any]]) -> int:
        """The tokens of `messages`, counting the uncached ones in a worker thread when there
        are many (a first turn on a long session), so the event loop keeps serving."""
        missing = [m for m in messages if counter.cached(m) is None]
        if len(missing) > BULK_COUNT_IN_THREAD:
            counts = await asyncio.to_thread(lambda: [counter.count_message(m) for m in missing])
            for message, tokens in zip(missing, counts):
                counter.remember(message, tokens)
        return sum(counter.messages(messages))

    @staticmethod
    def size(messages: list[dict[str, Any]], system: str | None, tools: list[ToolSpec],
             counter: TokenCounter) -> int:
        """The tokens of a whole request, by `counter` (see `counter()`)."""
        return counter.text(system) + counter.tools(tools) + sum(counter.messages(messages))

    async def fit(self, messages: list[dict[str, Any]], *, system: str | None, tools: list[ToolSpec],
                  client: LLMClient, cfg: LLMConfig, session_id: str, store_summary: StoreSummary,
                  reason: str = "overflow", total: RunningTotal | None = None,
                  ) -> tuple[list[dict[str, Any]], ContextCompactedEvent | None]:
        """The messages to send. A summary replaces the oldest part of `messages` in place (and
        is stored through `store_summary(summary, first kept message id)`); left-out messages
        are only left out of the returned list. With the event to publish, if anything changed.
        `total` (updated here) carries the running count of `messages` between calls."""
        window = self.window(client, cfg)
        if window is None and reason == "overflow":
            return messages, None           # no known window: only the provider can say "too long"
        counter = await self.counter(client)
        total = total if total is not None else RunningTotal()
        if total.key != counter.key or total.counted > len(messages):
            total.key, total.counted, total.tokens = counter.key, 0, 0
        total.tokens += await self._count_new(counter, messages[total.counted:])
        total.counted = len(messages)
        fixed = counter.text(system) + counter.tools(tools)
        before = fixed + total.tokens
        limit = None
        if window is not None:
            reserve = cfg.maxOutputTokens or min(ANSWER_RESERVE_MAX, window // 8)
            limit = int(window * self.config.thresholdPercent) - reserve
        if reason == "provider-error":
            limit = min(limit if limit is not None else before, int(before * PROVIDER_ERROR_SHRINK))
        if limit is None or before <= limit:
            return messages, None
        # Past the limit: now, and only now, the whole context is looked at (cached counts).
        counts = counter.messages(messages)
        budget = max(limit - fixed, 0)
        original_count, summary_id, strategy = len(messages), None, "drop-oldest"
        if self.config.enabled and self.config.type == "reactive-overflow":
            cut = _cut(messages, counts, budget // 2)
            turns = _turn_start(messages, self.config.preserveLastNTurns)
            # More than two thirds of the budget verbatim would bring the next summary too soon.
            if turns < cut and sum(counts[turns:]) <= budget * 2 // 3:
                cut = turns
            if cut > 1 or (cut == 1 and not is_summary(messages[0])):
                summary = await self._summarise(messages[:cut], client, window or before, before)
                if summary is not None:
                    await store_summary(summary, messages[cut]["id"] if cut < len(messages) else None)
                    messages[:] = [summary, *messages[cut:]]
                    counts = [counter.message(summary), *counts[cut:]]
                    total.counted, total.tokens = len(messages), sum(counts)
                    summary_id, strategy = summary["id"], "reactive-overflow"
        request = messages
        if fixed + sum(counts) > limit:
            cut = _cut(messages, counts, max(budget - 40, 0))
            if cut > 0:
                marker = {"role": "system", "content": f"[{cut} earlier messages of this conversation are left "
                                                       "out: they no longer fit the model's context window]"}
                request = [marker, *messages[cut:]]
                counts = [counter.message(marker), *counts[cut:]]
        after = fixed + sum(counts)
        if request is messages and summary_id is None:
            return messages, None
        log.info("session %s: context compacted (%s, %s): %d -> %d tokens", session_id, strategy, reason,
                 before, after)
        return request, ContextCompactedEvent(session_id, before, after, original_count, len(request),
                                              strategy, reason, summary_id)

    def _summariser(self, client: LLMClient, window: int) -> tuple[LLMClient, int]:
        """The model that writes the summary, and the window its transcript must fit: the
        configured `compaction.llm` (its own window when known), else the session's."""
        configured = self.summary_model() if self.summary_model is not None else None
        if configured is None:
            return client, window
        summary_client, summary_cfg = configured
        return summary_client, (summary_cfg.maxInputTokens
                                or max_input_tokens(summary_client.provider, summary_client.model) or window)

    async def _summarise(self, part: list[dict[str, Any]], client: LLMClient, window: int,
                         before: int) -> dict[str, Any] | None:
        """A summary message of `part` made by the summary model; None when it fails."""
        try:
            summariser, summary_window = self._summariser(client, window)
        except SwitchyardError as exc:     # an unusable compaction.llm
            log.warning("compaction summary model unusable, leaving the oldest messages out instead: %s", exc)
            return None
        transcript = _transcript(part, max_chars=max(summary_window // 2, 256) * 4)
        text = ""
        try:
            async for delta in summariser.stream([{"role": "user", "content": transcript}], [],
                                                 system=self.config.summaryPrompt or SUMMARY_INSTRUCTIONS):
                if isinstance(delta, TextDelta):
                    text += delta.text
        except SwitchyardError as exc:
            log.warning("compaction summary failed, leaving the oldest messages out instead: %s", exc)
            return None
        text = text.strip()[:self.config.maxSummaryTokens * 4]
        if not text:
            return None
        # The range covered, in the history's order: an earlier summary at the head stands for
        # the messages it covered (it is stored after the messages it kept verbatim).
        earlier = part[0]["metadata"]["compaction"] if is_summary(part[0]) else None
        own = part[1:] if earlier is not None else part
        first_id = earlier["firstMessageId"] if earlier is not None else own[0].get("id")
        last_id = own[-1].get("id") if own else earlier["lastMessageId"]
        covered = len(own) + (earlier.get("summarizedMessages", 0) if earlier is not None else 0)
        return {"id": new_id(), "role": "system", "content": SUMMARY_PREFIX + text,
                "timestamp": now_ms(),
                "metadata": {"compaction": {"strategy": "reactive-overflow", "summarizedMessages": covered,
                                            "firstMessageId": first_id, "lastMessageId": last_id,
                                            "originalTokens": before,
                                            "model": getattr(summariser, "model", None)}}}
