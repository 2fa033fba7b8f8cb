"""Provider resolution, the echo test model, retry helpers and the catalog (all offline)."""

from __future__ import annotations

import json
import subprocess
import sys
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest

from switchyard.config.schema import LLMConfig
from switchyard.errors import ConfigError
from switchyard.llm import local_provider
from switchyard.llm.base import Finish, TextDelta, ToolCallAccumulator, ToolCallDelta, ToolSpec, Usage
from switchyard.llm.catalog import catalog, flat_catalog
from switchyard.llm.echo import EchoClient
from switchyard.llm.factory import ECHO_NOTICE, create_llm_client, resolve_llm
from switchyard.llm.retry import RetryPolicy, parse_retry_after, scrub


@pytest.fixture
def no_local(monkeypatch):
    """Resolution must not depend on whether [local] happens to be installed here."""
    monkeypatch.setattr(local_provider, "local_available", lambda: False)


# --- resolution ------------------------------------------------------------------------

def test_openai_key_wins(no_local):
    r = resolve_llm(LLMConfig(), env={"OPENAI_API_KEY": "sk-o", "ANTHROPIC_API_KEY": "sk-a"})
    assert (r.provider, r.model, r.api_key, r.base_url) == ("openai", "gpt-4o-mini", "sk-o", "https://api.openai.com/v1")
    assert r.notice is None


def test_anthropic_when_only_its_key(no_local):
    r = resolve_llm(LLMConfig(), env={"ANTHROPIC_API_KEY": "sk-a"})
    assert r.provider == "anthropic" and r.model.startswith("claude") and r.api_key == "sk-a"


def test_model_name_picks_vendor(no_local):
    r = resolve_llm(LLMConfig(model="claude-sonnet-4-6"), env={"OPENAI_API_KEY": "k1", "ANTHROPIC_API_KEY": "k2"})
    assert (r.provider, r.model, r.api_key) == ("anthropic", "claude-sonnet-4-6", "k2")


def test_local_when_installed_and_no_keys(monkeypatch):
    monkeypatch.setattr(local_provider, "local_available", lambda: True)
    r = resolve_llm(LLMConfig(), env={})
    assert r.provider == "local" and r.notice and "OPENAI_API_KEY" in r.notice


def test_echo_fallback_with_notice(no_local):
    r = resolve_llm(LLMConfig(), env={})
    assert (r.provider, r.model) == ("echo", "echo")
    assert r.notice == ECHO_NOTICE
    assert "OPENAI_API_KEY" in r.notice and "ANTHROPIC_API_KEY" in r.notice and "[local]" in r.notice
    assert isinstance(create_llm_client(LLMConfig(), env={}), EchoClient)


def test_missing_key_names_env_var():
    with pytest.raises(ConfigError) as info:
        resolve_llm(LLMConfig(provider="groq"), env={})
    assert "GROQ_API_KEY" in str(info.value)
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        resolve_llm(LLMConfig(provider="anthropic"), env={"OPENAI_API_KEY": "x"})


def test_presets_and_base_url_override():
    r = resolve_llm(LLMConfig(provider="groq"), env={"GROQ_API_KEY": "gsk"})
    assert r.base_url == "https://api.groq.com/openai/v1" and r.api_key == "gsk"
    r = resolve_llm(LLMConfig(provider="xai", apiKey="cfgkey", baseURL="http://127.0.0.1:9/v1"), env={})
    assert r.base_url == "http://127.0.0.1:9/v1" and r.api_key == "cfgkey"
    r = resolve_llm(LLMConfig(provider="ollama"), env={})
    assert r.base_url == "http://127.0.0.1:11434/v1" and r.api_key is None
    assert resolve_llm(LLMConfig(provider="llama-cpp"), env={}).base_url == "http://127.0.0.1:8080/v1"
    assert resolve_llm(LLMConfig(provider="vllm", model="m"), env={}).base_url == "http://127.0.0.1:8000/v1"
    assert resolve_llm(LLMConfig(provider="openrouter"), env={"OPENROUTER_API_KEY": "k"}).base_url == \
        "https://openrouter.ai/api/v1"


def test_openai_compatible_needs_base_url_and_model():
    with pytest.raises(ConfigError, match="baseURL"):
        resolve_llm(LLMConfig(provider="openai-compatible", model="m"), env={})
    with pytest.raises(ConfigError, match="llm.model"):
        resolve_llm(LLMConfig(provider="openai-compatible", baseURL="http://127.0.0.1:1/v1"), env={})
    r = resolve_llm(LLMConfig(provider="openai-compatible", model="m", baseURL="http://127.0.0.1:1/v1"),
                    env={"OPENAI_API_KEY": "sk-must-not-be-used"})
    assert r.api_key is None  # the OpenAI key is never sent to an arbitrary server


def test_every_reference_provider_is_served():
    from switchyard.config.schema import REFERENCE_PROVIDERS
    env = {"GOOGLE_VERTEX_PROJECT": "p"}
    for name in REFERENCE_PROVIDERS:
        resolved = resolve_llm(LLMConfig(provider=name, model="m", apiKey="k",
                                         baseURL="http://127.0.0.1:1/v1"), env=env)
        assert resolved.provider == name


def test_resolved_repr_hides_key():
    r = resolve_llm(LLMConfig(provider="openai", apiKey="sk-hidden-123456"), env={})
    assert "sk-hidden" not in repr(r)


def test_factory_import_is_cheap():
    code = ("import sys, switchyard.llm.factory, switchyard.llm.catalog; "
            "print(sorted(m for m in ('openai','anthropic','llama_cpp') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- echo ------------------------------------------------------------------------------

async def test_echo_streams_words_with_usage():
    client = create_llm_client(LLMConfig(provider="echo"), env={})
    deltas = [d async for d in client.stream([{"role": "user", "content": "one two three four five"}], [])]
    pieces = [d.text for d in deltas if isinstance(d, TextDelta)]
    assert len(pieces) > 1 and "".join(pieces) == "Echo: one two three four five"
    assert Usage(input_tokens=5, output_tokens=6) in deltas
    assert deltas[-1] == Finish("stop")


async def test_echo_tool_round_trip():
    client = EchoClient()
    tools = [ToolSpec("add", "Add numbers", {"type": "object"})]
    messages = [{"role": "user", "content": '/tool add {"a": 1, "b": 2}'}]
    deltas = [d async for d in client.stream(messages, tools)]
    acc = ToolCallAccumulator()
    for d in deltas:
        if isinstance(d, ToolCallDelta):
            acc.add(d)
    [call] = acc.calls()
    assert call.name == "add" and call.parsed_arguments() == {"a": 1, "b": 2}
    assert deltas[-1] == Finish("tool-calls")

    messages += [{"role": "assistant", "content": None, "toolCalls": [call.to_message_dict()]},
                 {"role": "tool", "toolCallId": call.id, "content": [{"type": "text", "text": "3"}]}]
    reply = "".join(d.text for d in [d async for d in client.stream(messages, tools)] if isinstance(d, TextDelta))
    assert reply == "Tool add returned: 3"


async def test_echo_ignores_tool_command_for_unoffered_tool():
    deltas = [d async for d in EchoClient().stream([{"role": "user", "content": "/tool nope {}"}], [])]
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "Echo: /tool nope {}"
    assert deltas[-1] == Finish("stop")


# --- retry helpers -----------------------------------------------------------------------

def test_parse_retry_after():
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=20), usegmt=True)
    assert 17 <= parse_retry_after({"retry-after": when}) <= 20.5


def test_backoff_grows_and_is_capped():
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0)
    assert 0.5 <= policy.backoff(1) <= 1.0
    assert 2.0 <= policy.backoff(3) <= 4.0
    assert policy.backoff(20) <= 30.0


def test_scrub():
    text = scrub("key sk-abcdef123456 and Bearer abc.def.ghi123 and mysecretvalue", ["mysecretvalue"])
    assert "sk-abcdef" not in text and "abc.def" not in text and "mysecretvalue" not in text


# --- catalog -----------------------------------------------------------------------------

def test_catalog_shape_and_no_secrets():
    env = {"OPENAI_API_KEY": "sk-live-catalogsecret", "GROQ_API_KEY": "gsk_catalogsecret"}
    grouped = catalog(env)
    dumped = json.dumps(grouped)
    assert "catalogsecret" not in dumped
    providers = grouped["providers"]
    assert providers["openai"]["hasApiKey"] is True and providers["anthropic"]["hasApiKey"] is False
    assert providers["openai"]["primaryEnvVar"] == "OPENAI_API_KEY"
    assert providers["bedrock"]["models"][0]["name"] == "amazon.nova-lite-v1:0"
    assert providers["vertex"]["models"][0]["name"] == "gemini-2.5-flash"
    assert providers["google"]["primaryEnvVar"] == "GOOGLE_GENERATIVE_AI_API_KEY"
    assert providers["google"]["models"][0]["name"] == "gemini-2.5-flash"
    openai_models = providers["openai"]["models"]
    assert openai_models[0]["name"] == "gpt-4o-mini" and openai_models[0]["default"] is True
    assert all({"name", "maxInputTokens", "supportedFileTypes"} <= set(m) for p in providers.values()
               for m in p["models"])
    assert providers["echo"]["supportsBaseURL"] is False

    flat = flat_catalog(env)["models"]
    assert {"name": "gpt-4o-mini", "provider": "openai"}.items() <= next(
        m for m in flat if m["name"] == "gpt-4o-mini").items()
    assert "catalogsecret" not in json.dumps(flat)
