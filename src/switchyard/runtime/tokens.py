"""Counting the tokens of a request, well enough to decide whether it fits the model's window.

Per model family (`counter_key`):

* OpenAI's models: exact, with OpenAI's own tokenizer (tiktoken's o200k_base or cl100k_base,
  llm/openai_tokenizer.py) when its encoding is available offline; otherwise the estimate.
* Anthropic's (Claude, also through Bedrock or Vertex): the estimate with a 15 % margin. Claude's
  current tokenizer is not published, and its count endpoint costs a network call per message.
* Everything else (Gemini, local and compatible servers): the estimate.

The estimate: ASCII text at 3.6 characters a token, other text at 2.5 UTF-8 bytes a token.
Measured (bench/token_estimate.py; numbers in docs/compaction.md) as real/estimated tokens in
total: against o200k_base and cl100k_base 0.96 for English prose, 0.85 for Python, 1.07-1.10
for JSON-heavy text; other scripts 0.3-0.8 (the estimate is larger). Against the legacy Claude
tokenizer 1.02 / 0.94 / 1.15, which the margin brings to 0.88 / 0.82 / 1.00. A plain four
characters a token would undercount CJK text about fivefold.

Each message also costs a few tokens of framing, as OpenAI documents for its chat format.
Counts are cached per message id and counter: a turn counts only the messages it has not seen.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from functools import lru_cache
from typing import Any, Callable, Iterable

from switchyard.llm.base import ToolSpec, content_to_text

CHARS_PER_TOKEN = 3.6       # ASCII text (English, code, JSON)
BYTES_PER_TOKEN = 2.5       # UTF-8 bytes of other text (accented, Cyrillic, CJK ...)
ANTHROPIC_MARGIN = 1.15     # Claude's tokenizer counts more than the estimate's reference (JSON: 15 %)
MESSAGE_OVERHEAD = 4        # role and separators of one chat message
IMAGE_TOKENS = 800          # an attachment part: what a mid-sized image costs at OpenAI
EXACT_MAX_CHARS = 200_000   # longer text: the rest estimated (BPE on megabytes is slow)
CACHE_MAX = 200_000         # message counts kept per counter (about 30 MB at most)
TEXT_CACHE_MAX = 64         # system prompts counted, per counter
ESTIMATE = "estimate"


def estimate_text(text: str) -> int:
    if not text:
        return 0
    if text.isascii():
        return int(len(text) / CHARS_PER_TOKEN) + 1
    ascii_chars = len(text.encode("ascii", "ignore"))
    other_bytes = len(text.encode("utf-8", "surrogatepass")) - ascii_chars
    return int(ascii_chars / CHARS_PER_TOKEN + other_bytes / BYTES_PER_TOKEN) + 1


def _is_claude(provider: str, model: str) -> bool:
    return provider == "anthropic" or "claude" in model.lower()


@lru_cache(maxsize=256)    # asked before every model call; the answer depends on the names only
def counter_key(provider: str, model: str) -> str:
    """Which counter serves a model: `openai:<encoding>`, `anthropic`, or `estimate`."""
    from switchyard.llm.openai_tokenizer import encoding_name, is_openai_model
    if is_openai_model(provider, model):
        return f"openai:{encoding_name(model)}"
    return "anthropic" if _is_claude(provider, model) else ESTIMATE


def make_counter(key: str) -> "TokenCounter":
    """The counter for `key` (loads OpenAI's encoding: about a second, call it off the event
    loop; an encoding that is not available offline gives the estimate, under the same key)."""
    if key.startswith("openai:"):
        from switchyard.llm.openai_tokenizer import encoding
        found = encoding(key.partition(":")[2])
        if found is not None:
            encode = found.encode_ordinary

            def exact(text: str) -> int:
                if not text:
                    return 0
                if len(text) <= EXACT_MAX_CHARS:
                    return len(encode(text))
                return len(encode(text[:EXACT_MAX_CHARS])) + estimate_text(text[EXACT_MAX_CHARS:])
            return TokenCounter(exact, key=key, exact=True)
    if key == "anthropic":
        return TokenCounter(lambda text: int(estimate_text(text) * ANTHROPIC_MARGIN), key=key)
    return TokenCounter(estimate_text, key=key)


class TokenCounter:
    """Token counts of messages (cached by message id) and of tool schemas, by one rule."""

    def __init__(self, count_text: Callable[[str], int] = estimate_text, *, key: str = ESTIMATE,
                 exact: bool = False, cache_max: int = CACHE_MAX) -> None:
        self.count_text = count_text
        self.key = key
        self.exact = exact          # a real tokenizer, not the estimate
        self._messages: OrderedDict[str, int] = OrderedDict()
        self._tools: dict[tuple[str, str], int] = {}
        self._texts: dict[str, int] = {}
        self._cache_max = cache_max

    def count_message(self, message: dict[str, Any]) -> int:
        """One message's tokens, uncached."""
        content = message.get("content")
        tokens = MESSAGE_OVERHEAD + self.count_text(content_to_text(content))
        if isinstance(content, list):
            tokens += IMAGE_TOKENS * sum(1 for part in content
                                         if isinstance(part, dict) and part.get("type") in ("image", "file"))
        calls = message.get("toolCalls")
        if calls:
            tokens += self.count_text(json.dumps(calls, separators=(",", ":")))
        if message.get("name"):
            tokens += 1
        return tokens

    def cached(self, message: dict[str, Any]) -> int | None:
        key = message.get("id")
        return self._messages.get(key) if isinstance(key, str) else None

    def remember(self, message: dict[str, Any], tokens: int) -> None:
        key = message.get("id")
        if isinstance(key, str):
            self._messages[key] = tokens
            if len(self._messages) > self._cache_max:
                self._messages.popitem(last=False)

    def message(self, message: dict[str, Any]) -> int:
        cached = self.cached(message)
        if cached is None:
            cached = self.count_message(message)
            self.remember(message, cached)
        return cached

    def messages(self, messages: Iterable[dict[str, Any]]) -> list[int]:
        return [self.message(m) for m in messages]

    def text(self, text: str | None) -> int:
        """A text's tokens; the few long ones asked for every step (system prompts) are cached."""
        if not text:
            return 0
        cached = self._texts.get(text)
        if cached is None:
            cached = self._texts[text] = self.count_text(text)
            if len(self._texts) > TEXT_CACHE_MAX:
                self._texts.pop(next(iter(self._texts)))
        return cached

    def tools(self, specs: list[ToolSpec]) -> int:
        total = 0
        for spec in specs:
            key = (spec.name, spec.description)
            cached = self._tools.get(key)
            if cached is None:
                schema = json.dumps(spec.parameters, separators=(",", ":"))
                cached = self._tools[key] = MESSAGE_OVERHEAD + self.count_text(spec.name + spec.description + schema)
            total += cached
        return total
