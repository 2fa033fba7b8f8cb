"""The model catalog for GET /api/llm/catalog, in the reference's grouped shape.

A small curated list per provider, not a live listing (no network here). It says only
WHETHER a key is available (`hasApiKey`), never the key itself.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from .presets import PRESETS

_IMG_PDF = ["image", "pdf"]

# provider -> [(model name, max input tokens, display name, file types)]; first is the default.
_MODELS: dict[str, list[tuple[str, int, str, list[str]]]] = {
    "openai": [
        ("gpt-4o-mini", 128_000, "GPT-4o mini", _IMG_PDF),
        ("gpt-4o", 128_000, "GPT-4o", _IMG_PDF),
        ("gpt-4.1", 1_047_576, "GPT-4.1", _IMG_PDF),
        ("gpt-4.1-mini", 1_047_576, "GPT-4.1 mini", _IMG_PDF),
        ("o4-mini", 200_000, "o4-mini", _IMG_PDF),
    ],
    "anthropic": [
        ("claude-haiku-4-5", 200_000, "Claude Haiku 4.5", _IMG_PDF),
        ("claude-sonnet-4-6", 200_000, "Claude Sonnet 4.6", _IMG_PDF),
        ("claude-opus-4-6", 200_000, "Claude Opus 4.6", _IMG_PDF),
    ],
    "openrouter": [
        ("openai/gpt-4o-mini", 128_000, "GPT-4o mini (OpenRouter)", ["image"]),
        ("anthropic/claude-haiku-4.5", 200_000, "Claude Haiku 4.5 (OpenRouter)", ["image"]),
        ("meta-llama/llama-3.3-70b-instruct", 131_072, "Llama 3.3 70B (OpenRouter)", []),
    ],
    "groq": [
        ("llama-3.3-70b-versatile", 131_072, "Llama 3.3 70B", []),
        ("llama-3.1-8b-instant", 131_072, "Llama 3.1 8B", []),
    ],
    "xai": [
        ("grok-3-mini", 131_072, "Grok 3 mini", []),
        ("grok-3", 131_072, "Grok 3", []),
    ],
    "glama": [("openai/gpt-4o-mini", 128_000, "GPT-4o mini (Glama)", ["image"])],
    "ollama": [
        ("llama3.2", 128_000, "Llama 3.2", []),
        ("qwen2.5", 32_768, "Qwen 2.5", []),
    ],
    "google": [
        ("gemini-2.5-flash", 1_048_576, "Gemini 2.5 Flash", _IMG_PDF),
        ("gemini-2.5-pro", 1_048_576, "Gemini 2.5 Pro", _IMG_PDF),
        ("gemini-2.5-flash-lite", 1_048_576, "Gemini 2.5 Flash-Lite", _IMG_PDF),
        ("gemini-2.5-flash-image", 32_768, "Gemini 2.5 Flash Image (nano-banana)", ["image"]),
    ],
    "vertex": [
        ("gemini-2.5-flash", 1_048_576, "Gemini 2.5 Flash (Vertex AI)", _IMG_PDF),
        ("gemini-2.5-pro", 1_048_576, "Gemini 2.5 Pro (Vertex AI)", _IMG_PDF),
    ],
    "bedrock": [
        ("amazon.nova-lite-v1:0", 300_000, "Amazon Nova Lite", ["image"]),
        ("amazon.nova-pro-v1:0", 300_000, "Amazon Nova Pro", ["image"]),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", 200_000, "Claude 3.5 Haiku (Bedrock)", []),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", 200_000, "Claude Sonnet 4.5 (Bedrock)", ["image"]),
    ],
    "cohere": [
        ("command-a-03-2025", 256_000, "Command A", []),
        ("command-r-plus-08-2024", 128_000, "Command R+", []),
        ("command-r7b-12-2024", 128_000, "Command R7B", []),
    ],
    "minimax": [
        ("MiniMax-M2", 204_800, "MiniMax M2", []),
        ("MiniMax-Text-01", 1_000_192, "MiniMax Text 01", []),
    ],
    "glm": [
        ("glm-4.5", 128_000, "GLM-4.5", []),
        ("glm-4.5-air", 128_000, "GLM-4.5 Air", []),
        ("glm-4.5v", 64_000, "GLM-4.5V", ["image"]),
    ],
    "dexto-nova": [
        ("anthropic/claude-haiku-4.5", 200_000, "Claude Haiku 4.5 (Dexto Nova)", ["image"]),
        ("openai/gpt-4o-mini", 128_000, "GPT-4o mini (Dexto Nova)", ["image"]),
    ],
    "llama-cpp": [("default", 8_192, "Model loaded by llama.cpp server", [])],
    "local": [("smollm2-135m-instruct", 2_048, "SmolLM2 135M Instruct (offline)", [])],
    "echo": [("echo", 1_000_000, "Echo (offline test model)", [])],
    # openai-compatible, litellm and vllm serve whatever the user runs: no fixed list.
    "openai-compatible": [],
    "litellm": [],
    "vllm": [],
}


def max_input_tokens(provider: str | None, model: str | None) -> int | None:
    """The context window of a catalogued model; None when the catalog does not know it."""
    for name, max_in, _, _ in _MODELS.get(provider or "", []):
        if name == model:
            return max_in
    return None


def _has_key(provider: str, env: Mapping[str, str]) -> bool:
    preset = PRESETS[provider]
    if not preset.key_env:
        return not preset.key_required  # keyless providers are usable as they are
    return bool(env.get(preset.key_env))


def catalog(env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """`{providers: {id: {name, hasApiKey, primaryEnvVar, supportsBaseURL, models, supportedFileTypes}}}`"""
    providers: dict[str, Any] = {}
    for pid, preset in PRESETS.items():
        models = []
        file_types: set[str] = set()
        for i, (name, max_in, display, types) in enumerate(_MODELS.get(pid, [])):
            entry: dict[str, Any] = {"name": name, "displayName": display, "maxInputTokens": max_in,
                                     "supportedFileTypes": list(types)}
            if i == 0:
                entry["default"] = True
            file_types.update(types)
            models.append(entry)
        providers[pid] = {
            "name": preset.name,
            "hasApiKey": _has_key(pid, env),
            "primaryEnvVar": preset.key_env,
            "supportsBaseURL": preset.supports_base_url,
            "models": models,
            "supportedFileTypes": sorted(file_types),
        }
    return {"providers": providers}


def flat_catalog(env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The flat mode: `{models: [{...model, provider}]}` across all providers."""
    grouped = catalog(env)["providers"]
    return {"models": [{**m, "provider": pid} for pid, p in grouped.items() for m in p["models"]]}
