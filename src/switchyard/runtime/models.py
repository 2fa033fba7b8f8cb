"""An agent's model clients: the default one, the per-session overrides, and switching.

Clients are made on first use (the provider SDK import is the largest part of a cold start)
and cached by their configuration; a session's override may carry an API key, which lives in
memory only (on its LiveSession), never in the store.
"""

from __future__ import annotations

import asyncio
import os
from collections import ChainMap, OrderedDict
from typing import Any, Callable, Mapping

from pydantic import ValidationError

from switchyard.config.schema import AgentConfig, LLMConfig
from switchyard.errors import ConfigError, RequestError, validation_issues
from switchyard.llm.base import LLMClient
from switchyard.llm.concurrency import BoundedClient, ProviderGates

MAX_CACHED_CLIENTS = 32

# Called by a client before it retries a failed request: (attempt, delay in seconds, error).
OnRetry = Callable[[int, float, Exception], None]


class ModelClients:
    def __init__(self, config: AgentConfig, *, env: Mapping[str, str] | None = None,
                 client: LLMClient | None = None, on_retry: OnRetry | None = None) -> None:
        self.config = config
        self.env = env
        self._default = client
        self._given = client is not None
        self._on_retry = on_retry
        self._cached: OrderedDict[str, LLMClient] = OrderedDict()
        # Calls in flight per provider endpoint; the host shares one set among its agents.
        self.gates = ProviderGates()
        # Provider keys the server stores (env var name -> key; server/model_settings.py),
        # read after the environment: the host shares one mapping among its agents.
        self.stored_keys: Mapping[str, str] = {}

    def _environ(self) -> Mapping[str, str]:
        base = os.environ if self.env is None else self.env
        return ChainMap(base, self.stored_keys) if self.stored_keys else base  # type: ignore[arg-type]

    def check(self) -> None:
        """Fail fast on an unusable model config, without importing the provider SDK."""
        from switchyard.llm.factory import resolve_llm
        if not self._given:
            resolve_llm(self.config.llm, self._environ())
        summary = self.summary_config()
        if summary is not None:
            try:
                resolve_llm(summary, self._environ())
            except ConfigError as exc:   # name the field it came from
                issues = [{**issue, "path": f"compaction.{issue.get('path', 'llm')}"} for issue in exc.issues]
                raise ConfigError(f"compaction.llm: {exc.message}", issues=issues, file=exc.file) from None

    def summary_config(self) -> LLMConfig | None:
        """The model for compaction summaries (`compaction.llm`): the agent's `llm` with its
        fields replaced; another provider does not inherit the agent's key and base URL.
        None: summaries use the session's own model."""
        summary = self.config.compaction.llm
        if summary is None:
            return None
        merged = self.config.llm.model_dump(exclude_none=True)
        if summary.provider is not None and summary.provider != merged.get("provider"):
            for field in ("apiKey", "baseURL", "reasoning"):
                merged.pop(field, None)
        merged.update(summary.model_dump(exclude_none=True))
        return LLMConfig.model_validate(merged)

    def summary_model(self) -> tuple[LLMClient, LLMConfig] | None:
        """The client and config for compaction summaries; None: the session's own model."""
        cfg = self.summary_config()
        return None if cfg is None else (self.client_for(cfg), cfg)

    def create(self, cfg: LLMConfig) -> LLMClient:
        """A new client for `cfg` (raises ConfigError for an unusable provider), bounded by
        its provider's gate."""
        from switchyard.llm.factory import create_llm_client
        return BoundedClient(create_llm_client(cfg, env=self._environ(), on_retry=self._on_retry), self.gates)

    @property
    def default(self) -> LLMClient:
        """The agent's own model."""
        if self._default is None:
            self._default = self.create(self.config.llm)
        elif self._given and not isinstance(self._default, BoundedClient):
            self._default = BoundedClient(self._default, self.gates)
        return self._default

    def config_for(self, session: dict[str, Any], api_key: str | None = None) -> LLMConfig:
        """The model a session uses: the agent's, or its own override (with `api_key`, the
        override's key held in memory)."""
        override = session.get("llmOverride")
        if not override:
            return self.config.llm
        merged = {**self.config.llm.model_dump(exclude_none=True), **override}
        if api_key:
            merged["apiKey"] = api_key
        return LLMConfig.model_validate(merged)

    def running_as(self, cfg: LLMConfig) -> tuple[str, str]:
        """The provider and model serving `cfg`, without making a client when none is made yet
        (that imports the provider's SDK: about 0.4 s on the first `GET /api/llm/current`)."""
        if cfg is self.config.llm and (self._default is not None or self._given):
            client = self.default
        else:
            client = None if cfg is self.config.llm else self._cached.get(cfg.model_dump_json())
        if client is not None:
            return client.provider, client.model
        from switchyard.llm.factory import resolve_llm
        resolved = resolve_llm(cfg, self._environ())
        return resolved.provider, resolved.model

    def client_for(self, cfg: LLMConfig) -> LLMClient:
        """The client for `cfg`: the default one for the agent's config, else a cached one."""
        if cfg is self.config.llm:
            return self.default
        key = cfg.model_dump_json()
        client = self._cached.get(key)
        if client is None:
            client = self.create(cfg)
            self._cached[key] = client
            while len(self._cached) > MAX_CACHED_CLIENTS:
                _, evicted = self._cached.popitem(last=False)
                # Its HTTP session holds sockets: close it (a turn still using it has finished
                # its request by the time the close runs, or fails cleanly as a provider error).
                task = asyncio.ensure_future(evicted.aclose())
                task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._cached.move_to_end(key)
        return client

    @staticmethod
    def check_updates(updates: dict[str, Any]) -> None:
        """A switch names a model or a provider (RequestError if neither)."""
        if not updates.get("model") and not updates.get("provider"):
            raise RequestError("at least one of `model` or `provider` is required",
                               details={"fields": ["model", "provider"]})

    @classmethod
    def updated(cls, base: LLMConfig, updates: dict[str, Any]) -> LLMConfig:
        """`base` with `updates` applied, validated (RequestError naming the field if not)."""
        cls.check_updates(updates)
        merged = {**base.model_dump(exclude_none=True), **{k: v for k, v in updates.items() if v is not None}}
        if updates.get("provider") and updates.get("provider") != base.provider and "model" not in updates:
            merged.pop("model", None)  # the old model belongs to the old provider
        for name, value in updates.items():
            if value is None:
                merged.pop(name, None)   # an explicit null clears the field (`reasoning: null`)
        try:
            return LLMConfig.model_validate(merged)
        except ValidationError as exc:
            first = validation_issues(exc.errors())[0]
            raise RequestError(f"{first['path']}: {first['message']}",
                               details={"field": first["path"]}) from None

    async def replace_default(self, cfg: LLMConfig, client: LLMClient) -> None:
        """Make `cfg` (served by `client`) the agent's model."""
        old = self._default
        self.config.llm = cfg
        self._default = client
        if old is not None:
            await old.aclose()

    async def drop_cached(self) -> None:
        """Close the cached (switched-to) clients: made with keys that may have changed."""
        cached, self._cached = list(self._cached.values()), OrderedDict()
        for client in cached:
            try:
                await client.aclose()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass

    async def close(self) -> None:
        for client in [self._default, *self._cached.values()]:
            if client is not None:
                try:
                    await client.aclose()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass
