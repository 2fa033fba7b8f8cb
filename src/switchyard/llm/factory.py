"""Turn an `llm:` config block into a client.

`resolve_llm` decides provider, model, key and URL (pure: it reads only the `env` mapping it is
given, so tests pass their own). `create_llm_client` builds the client; the provider modules
(and with them the openai / anthropic / llama_cpp imports) load only here, on demand.

Resolution when `provider` is not set:
  1. a model named like `claude-*` or `gpt-*`/`o1`/`o3`/`o4` picks its vendor;
  2. OPENAI_API_KEY set        -> openai
  3. ANTHROPIC_API_KEY set     -> anthropic
  4. llama-cpp + SmolLM2 installed -> local (in-process, offline)
  5. otherwise                 -> echo, the offline test model, with a notice saying so.
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping

from switchyard.errors import ConfigError

from .base import LLMClient
from .presets import (KIND_ANTHROPIC, KIND_BEDROCK, KIND_ECHO, KIND_GOOGLE, KIND_LOCAL, KIND_VERTEX, PRESETS, SUPPORTED,
                      ResolvedLLM)
from .retry import OnRetry, RetryPolicy

__all__ = ["ResolvedLLM", "resolve_llm", "create_llm_client", "ECHO_NOTICE"]

ECHO_NOTICE = (
    "No LLM configured: using the offline 'echo' test model, which only repeats your message. "
    "For a real model set OPENAI_API_KEY or ANTHROPIC_API_KEY, or run pip install -e '.[local]' "
    "for a small offline model."
)
LOCAL_NOTICE = (
    "No API key found: using the local SmolLM2-135M model (offline, small, no tool calling). "
    "Set OPENAI_API_KEY or ANTHROPIC_API_KEY for a capable model."
)

_OPENAI_MODEL = re.compile(r"^(gpt-|o[134](-|$)|chatgpt-)")


def _auto_provider(cfg: Any, env: Mapping[str, str]) -> tuple[str, str | None]:
    model = cfg.model or ""
    if model.startswith("claude"):
        return "anthropic", None
    if _OPENAI_MODEL.match(model):
        return "openai", None
    if env.get("OPENAI_API_KEY"):
        return "openai", None
    if env.get("ANTHROPIC_API_KEY"):
        return "anthropic", None
    from .local_provider import local_available  # cheap: find_spec only
    if local_available():
        return "local", LOCAL_NOTICE
    return "echo", ECHO_NOTICE


def resolve_llm(cfg: Any, env: Mapping[str, str] = os.environ) -> ResolvedLLM:
    """Decide provider, model, API key and base URL for `cfg` (an LLMConfig)."""
    provider = cfg.provider
    notice = None
    if provider is None:
        provider, notice = _auto_provider(cfg, env)

    preset = PRESETS.get(provider)
    if preset is None:
        raise ConfigError(f"unknown llm.provider '{provider}'; supported providers: {', '.join(SUPPORTED)}",
                          issues=[{"path": "llm.provider", "message": f"unknown provider '{provider}'"}])

    # echo and local serve their one model, whatever an auto-detected config named.
    if preset.kind in (KIND_ECHO, KIND_LOCAL) and cfg.provider is None:
        model = preset.default_model
    else:
        model = cfg.model or preset.default_model
    if not model:
        raise ConfigError(f"llm.model is required for provider '{provider}'",
                          issues=[{"path": "llm.model", "message": f"required for provider '{provider}'"}])

    api_key = cfg.apiKey or (env.get(preset.key_env) if preset.key_env else None) or None
    if preset.key_required and not api_key:
        raise ConfigError(
            f"provider '{provider}' needs an API key: set {preset.key_env} or llm.apiKey",
            issues=[{"path": "llm.apiKey", "message": f"missing; set {preset.key_env}"}])

    base_url = None
    if preset.supports_base_url:
        base_url = cfg.baseURL or (env.get(preset.base_url_env) if preset.base_url_env else None) \
            or preset.base_url
        # Vertex and Bedrock: the SDK's regional endpoint.
        if not base_url and preset.kind not in (KIND_VERTEX, KIND_BEDROCK):
            hint = f" (or set {preset.base_url_env})" if preset.base_url_env else ""
            raise ConfigError(f"llm.baseURL is required for provider '{provider}'{hint}",
                              issues=[{"path": "llm.baseURL", "message": f"required for provider '{provider}'"}])
    if preset.kind == KIND_VERTEX and not api_key and not vertex_project(env):
        raise ConfigError(
            "provider 'vertex' needs a Google Cloud project: set GOOGLE_VERTEX_PROJECT (and "
            "GOOGLE_VERTEX_LOCATION, default us-central1) with Application Default Credentials, "
            "or an API key in GOOGLE_VERTEX_API_KEY / llm.apiKey",
            issues=[{"path": "llm.provider", "message": "'vertex' needs GOOGLE_VERTEX_PROJECT or an API key"}])
    return ResolvedLLM(provider=provider, model=model, api_key=api_key, base_url=base_url, notice=notice)


def vertex_project(env: Mapping[str, str]) -> str | None:
    return env.get("GOOGLE_VERTEX_PROJECT") or env.get("GOOGLE_CLOUD_PROJECT") or None


def vertex_options(resolved: ResolvedLLM, env: Mapping[str, str]) -> dict[str, Any]:
    """The google-genai Client's Vertex arguments: an API key (express mode), or a project and
    location with Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud)."""
    if resolved.api_key:
        return {"api_key": resolved.api_key}
    return {"project": vertex_project(env),
            "location": env.get("GOOGLE_VERTEX_LOCATION") or env.get("GOOGLE_CLOUD_LOCATION") or "us-central1"}


def create_llm_client(cfg: Any, env: Mapping[str, str] = os.environ, on_retry: OnRetry | None = None,
                      *, retry_policy: RetryPolicy | None = None,
                      resolved: ResolvedLLM | None = None) -> LLMClient:
    """Build the client for `cfg`. `on_retry(attempt, delay_seconds, error)` is called before
    each retry (sync or async). `retry_policy` overrides backoff timings (tests)."""
    resolved = resolved or resolve_llm(cfg, env)
    kind = PRESETS[resolved.provider].kind
    if kind == KIND_ECHO:
        from .echo import EchoClient
        return EchoClient(model=resolved.model)
    if kind == KIND_LOCAL:
        from .local_provider import LocalClient, folder_model_path
        # A model of the models folder by its name; otherwise the bundled SmolLM2.
        return LocalClient(model=resolved.model, max_output_tokens=cfg.maxOutputTokens,
                           temperature=cfg.temperature, model_path=folder_model_path(resolved.model, env))
    if kind == KIND_ANTHROPIC:
        from .anthropic_provider import AnthropicClient
        return AnthropicClient(resolved, cfg, on_retry=on_retry, retry_policy=retry_policy)
    if kind == KIND_BEDROCK:
        from .bedrock_provider import BedrockClient
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        return BedrockClient(resolved, cfg, region=region, on_retry=on_retry, retry_policy=retry_policy)
    if kind in (KIND_GOOGLE, KIND_VERTEX):
        from .google_provider import GoogleClient
        return GoogleClient(resolved, cfg, on_retry=on_retry, retry_policy=retry_policy,
                            vertex=vertex_options(resolved, env) if kind == KIND_VERTEX else None)
    from .openai_provider import OpenAIClient
    return OpenAIClient(resolved, cfg, on_retry=on_retry, retry_policy=retry_policy)
