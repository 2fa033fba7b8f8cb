"""The server's settings: one object, built once from the environment and the command line.

The runner (`switchyard serve`), `switchyard serve --mcp-stdio` and `switchyard keys` build it
with `ServerSettings.from_env(os.environ, ...flags)` and hand it down; `create_app` keeps it on
`app.state.settings` (`settings_of(request)` in a route). Nothing below reads the environment
per request, and no flag travels through an environment variable.

Variables (besides the security ones in security/settings.py):
- SWITCHYARD_BASE_URL / DEXTO_BASE_URL: the public URL the agent card advertises (else the
  request's own base URL; over stdio `http://localhost:$PORT`).
- SWITCHYARD_MAX_MESSAGE_CHARS: the longest message content accepted (default 200000).
- SWITCHYARD_WEBHOOK_*, SWITCHYARD_SCHEDULER_TICK_SECONDS: automation/settings.py.
- SWITCHYARD_LLM_MAX_CONCURRENCY (default 64; 0: no bound) and SWITCHYARD_LLM_QUEUE_TIMEOUT
  (seconds, default 30): calls in flight per LLM provider endpoint, and how long a call waits
  for a place before failing with llm_queue_timeout (503).
- SWITCHYARD_ROUTER_FALLBACK, SWITCHYARD_ROUTER_SEMANTIC, SWITCHYARD_ROUTER_LLM_MARGIN: the
  router for `agentId: "auto"` (the serve flags --router-* override them). SWITCHYARD_ROUTER_MODEL
  (the [semantic] model directory) is read by routing/semantic.py when the router is built, and
  checked at start (runner.check_router_model).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from switchyard.automation.settings import AutomationSettings
from switchyard.llm.concurrency import DEFAULT_MAX_CONCURRENCY, DEFAULT_QUEUE_TIMEOUT
from switchyard.server.security.settings import SecuritySettings

log = logging.getLogger("switchyard.server")

DEFAULT_MAX_MESSAGE_CHARS = 200_000
DEFAULT_PORT = 3001
SEMANTIC_CHOICES = ("auto", "on", "static", "off")


def llm_margin_from_env(env: Mapping[str, str]) -> float | None:
    """SWITCHYARD_ROUTER_LLM_MARGIN: a number >= 0, or unset for the router's default. A bad
    value is named in a warning and ignored (the server still routes)."""
    raw = env.get("SWITCHYARD_ROUTER_LLM_MARGIN")
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also rejects nan
        log.warning("SWITCHYARD_ROUTER_LLM_MARGIN=%r is not a number >= 0: using the default", raw[:40])
        return None
    return value


@dataclass(frozen=True)
class RouterSettings:
    """How `agentId: "auto"` picks an agent (see routing/router.py)."""

    fallback: str | None = None      # the agent for messages that fit none
    semantic: str = "auto"           # the embedding layer: auto | on | static | off
    llm_margin: float | None = None  # None: the router's default

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RouterSettings:
        return cls(fallback=env.get("SWITCHYARD_ROUTER_FALLBACK") or None,
                   semantic=env.get("SWITCHYARD_ROUTER_SEMANTIC") or "auto",
                   llm_margin=llm_margin_from_env(env))


def _frozen(env: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(env))


@dataclass(frozen=True)
class ServerSettings:
    security: SecuritySettings
    router: RouterSettings = field(default_factory=RouterSettings)
    base_url: str | None = None          # configured public base URL, without a trailing /
    port: int = DEFAULT_PORT
    max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS
    # Webhooks and schedules (automation/settings.py: retry and URL policy, scheduler tick).
    automation: AutomationSettings = field(default_factory=AutomationSettings)
    # Calls in flight per LLM provider endpoint (0: no bound), and how long a call waits for
    # a place before it fails with llm_queue_timeout.
    llm_max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    llm_queue_timeout: float = DEFAULT_QUEUE_TIMEOUT
    # The environment as it was when the settings were built: what the LLM catalog reports
    # (which providers have a key). Read-only; never the place to pass options around.
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, port: int | None = None,
                 router_fallback: str | None = None, router_semantic: str | None = None,
                 router_llm_margin: float | None = None,
                 insecure_no_auth: bool = False) -> ServerSettings:
        """The environment's settings, with the serve flags (each None/False: not given)
        taking precedence over their variables."""
        security = SecuritySettings.from_env(env)
        if insecure_no_auth:
            # --insecure-no-auth: the Host check must let non-loopback names in.
            security = replace(security, insecure_no_auth=True)
        router = RouterSettings.from_env(env)
        if router_fallback:
            router = replace(router, fallback=router_fallback)
        if router_semantic:
            router = replace(router, semantic=router_semantic)
        if router_llm_margin is not None:
            router = replace(router, llm_margin=router_llm_margin)
        configured = env.get("SWITCHYARD_BASE_URL") or env.get("DEXTO_BASE_URL")
        if port is None:
            port = int(env.get("PORT") or DEFAULT_PORT)
        return cls(security=security, router=router,
                   base_url=configured.rstrip("/") if configured else None, port=port,
                   max_message_chars=int(env.get("SWITCHYARD_MAX_MESSAGE_CHARS") or DEFAULT_MAX_MESSAGE_CHARS),
                   automation=AutomationSettings.from_env(env, production=security.production),
                   llm_max_concurrency=max(0, int(env.get("SWITCHYARD_LLM_MAX_CONCURRENCY")
                                                  or DEFAULT_MAX_CONCURRENCY)),
                   llm_queue_timeout=max(0.0, float(env.get("SWITCHYARD_LLM_QUEUE_TIMEOUT")
                                                    or DEFAULT_QUEUE_TIMEOUT)),
                   env=_frozen(env))

    @classmethod
    def from_args(cls, args: Any, env: Mapping[str, str]) -> ServerSettings:
        """The settings of `switchyard serve`: the environment and the serve flags."""
        return cls.from_env(env, port=getattr(args, "port", None),
                            router_fallback=getattr(args, "router_fallback", None),
                            router_semantic=getattr(args, "router_semantic", None),
                            router_llm_margin=getattr(args, "router_llm_margin", None),
                            insecure_no_auth=bool(getattr(args, "insecure_no_auth", False)))

    def public_base_url(self, request_base_url: str | None = None) -> str:
        """The base URL to advertise: the configured one, else the request's, else the
        local address (over stdio there is no request)."""
        if self.base_url:
            return self.base_url
        if request_base_url:
            return request_base_url.rstrip("/")
        return f"http://localhost:{self.port}"


def settings_of(request: Any) -> ServerSettings:
    """The app's settings, from a route (`request.app.state.settings`)."""
    return request.app.state.settings
