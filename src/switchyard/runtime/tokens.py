"""Counting the tokens of a request, well enough to decide whether it fits the model's window.

A calibrated estimate rather than a tokenizer: about four characters a token for English text
and code (OpenAI's and Anthropic's tokenizers both land near it), plus a few tokens of framing
per message, as OpenAI documents for its chat format. tiktoken would be exact for OpenAI models
but downloads its encodings from the internet on first use, which a server must not depend on;
the estimate errs on the large side, and a provider that still says "too long" triggers one
more compaction (runtime/compaction.py).

Counts are cached per message id: a turn re-counts only the messages it has not seen.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any, Iterable

from switchyard.llm.base import ToolSpec, content_to_text

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4        # role and separators of one chat message
IMAGE_TOKENS = 800          # an attachment part: what a mid-sized image costs at OpenAI
CACHE_MAX = 200_000         # message counts kept (about 30 MB at most)


def estimate_text(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def estimate_message(message: dict[str, Any]) -> int:
    content = message.get("content")
    tokens = MESSAGE_OVERHEAD + estimate_text(content_to_text(content))
    if isinstance(content, list):
        tokens += IMAGE_TOKENS * sum(1 for part in content
                                     if isinstance(part, dict) and part.get("type") in ("image", "file"))
    calls = message.get("toolCalls")
    if calls:
        tokens += estimate_text(json.dumps(calls, separators=(",", ":")))
    if message.get("name"):
        tokens += 1
    return tokens


class TokenCounter:
    """Token estimates of messages (cached by message id) and of tool schemas."""

    def __init__(self, cache_max: int = CACHE_MAX) -> None:
        self._messages: OrderedDict[str, int] = OrderedDict()
        self._tools: dict[tuple[str, str], int] = {}
        self._cache_max = cache_max

    def message(self, message: dict[str, Any]) -> int:
        key = message.get("id")
        if not isinstance(key, str):
            return estimate_message(message)
        cached = self._messages.get(key)
        if cached is None:
            cached = self._messages[key] = estimate_message(message)
            if len(self._messages) > self._cache_max:
                self._messages.popitem(last=False)
        return cached

    def messages(self, messages: Iterable[dict[str, Any]]) -> list[int]:
        return [self.message(m) for m in messages]

    def text(self, text: str | None) -> int:
        return estimate_text(text) if text else 0

    def tools(self, specs: list[ToolSpec]) -> int:
        total = 0
        for spec in specs:
            key = (spec.name, spec.description)
            cached = self._tools.get(key)
            if cached is None:
                schema = json.dumps(spec.parameters, separators=(",", ":"))
                cached = self._tools[key] = MESSAGE_OVERHEAD + estimate_text(spec.name + spec.description + schema)
            total += cached
        return total
