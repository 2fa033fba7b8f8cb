"""The parts of compaction (runtime/compaction.py, runtime/tokens.py) on their own: where a
cut may fall, which provider errors mean "too long", the per-message count cache, and the
fallback when the summary cannot be made. The whole flow is in tests/e2e/test_compaction.py."""

from __future__ import annotations

import asyncio
import random

import pytest

from switchyard.config.schema import CompactionConfig, LLMConfig
from switchyard.errors import LLMError
from switchyard.llm.function import FunctionModel
from switchyard.runtime.compaction import ContextFitter, _cut, is_context_overflow
from switchyard.runtime.tokens import TokenCounter


def _conversation(seed: int, turns: int = 30) -> list[dict]:
    rng = random.Random(seed)
    out: list[dict] = []
    for t in range(turns):
        out.append({"id": f"u{t}", "role": "user", "content": "q" * rng.randint(10, 800)})
        for step in range(rng.randint(0, 3)):
            calls = [{"id": f"c{t}_{step}_{k}", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                     for k in range(rng.randint(1, 3))]
            out.append({"id": f"a{t}_{step}", "role": "assistant", "content": None, "toolCalls": calls})
            out.extend({"id": f"r{c['id']}", "role": "tool", "toolCallId": c["id"], "content": "r" * rng.randint(1, 900)}
                       for c in calls)
        out.append({"id": f"a{t}", "role": "assistant", "content": "a" * rng.randint(10, 800)})
    return out


@pytest.mark.parametrize("seed", range(20))
def test_a_cut_never_falls_before_a_tool_result_and_keeps_what_fits(seed):
    messages = _conversation(seed)
    counts = TokenCounter().messages(messages)
    for target in (0, 50, 300, 1000, 5000, 10**9):
        cut = _cut(messages, counts, target)
        assert 0 <= cut < len(messages)
        assert messages[cut]["role"] != "tool"
        if sum(counts[cut:]) > target:   # only the last block, which alone is too large
            assert all(m["role"] == "tool" for m in messages[cut + 1:])
        elif cut > 0:                    # one boundary earlier would not fit
            earlier = max(i for i in range(cut) if messages[i]["role"] != "tool")
            assert sum(counts[earlier:]) > target


def test_which_provider_errors_mean_too_long():
    openai = LLMError("openai request failed: 400: This model's maximum context length is 8192 tokens. "
                      "However, your messages resulted in 9000 tokens.", provider="openai", upstream_status=400)
    anthropic = LLMError("prompt is too long: 210000 tokens > 200000 maximum", provider="anthropic",
                         upstream_status=400)
    assert is_context_overflow(openai) and is_context_overflow(anthropic)
    assert not is_context_overflow(LLMError("invalid api key", provider="openai", upstream_status=400))
    assert not is_context_overflow(LLMError("context length exceeded", provider="x", upstream_status=429))
    assert not is_context_overflow(ValueError("maximum context length"))


def test_counts_are_cached_by_message_id():
    counter = TokenCounter()
    message = {"id": "m1", "role": "user", "content": "x" * 400}
    first = counter.message(message)
    assert first == 116                            # 400 chars / 3.6 + 1, and 4 of framing
    message["content"] = "y"                       # stored messages do not change: the id decides
    assert counter.message(message) == first
    assert counter.message({"role": "user", "content": "y"}) == 5   # no id: counted each time


def test_a_summary_that_fails_falls_back_to_leaving_the_oldest_out():
    def failing(messages, tools, info):
        raise LLMError("the summariser is down", provider="function", upstream_status=503)

    stored = []
    messages = _conversation(3)
    fitter = ContextFitter(CompactionConfig(maxContextTokens=3000))

    async def store_summary(summary, keep_from):
        stored.append(summary)

    request, event = asyncio.run(fitter.fit(
        messages, system="be brief", tools=[], client=FunctionModel(failing), cfg=LLMConfig(),
        session_id="s", store_summary=store_summary))
    assert stored == [] and event is not None and event.strategy == "drop-oldest"
    assert request[0]["role"] == "system" and "left out" in request[0]["content"]
    assert request[-1] is messages[-1] and request[1]["role"] != "tool"
    assert event.compacted_tokens <= int(3000 * 0.9) - 375 < event.original_tokens
    assert len(messages) == len(_conversation(3))   # the turn's own list is untouched
