"""The automation settings, read once from the environment with the server's settings.

- SWITCHYARD_WEBHOOK_ALLOW_NETWORKS: comma-separated CIDRs (or addresses) webhook targets may
  resolve to even though they are private, loopback or link-local (default: none).
- SWITCHYARD_WEBHOOK_ALLOW_HTTP: `true` lets production webhooks use plain http (default:
  https required in production, http allowed in development).
- SWITCHYARD_WEBHOOK_MAX_ATTEMPTS (8), SWITCHYARD_WEBHOOK_RETRY_BASE_SECONDS (2),
  SWITCHYARD_WEBHOOK_RETRY_MAX_SECONDS (600), SWITCHYARD_WEBHOOK_TIMEOUT_SECONDS (10),
  SWITCHYARD_WEBHOOK_QUEUE_LIMIT (10000 undelivered events per webhook).
- SWITCHYARD_SCHEDULER_TICK_SECONDS (1): how often due schedules are looked for.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from switchyard.errors import ConfigError


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = minimum - 1
    if not value >= minimum:
        raise ConfigError(f"{name}={raw!r}: expected a number >= {minimum}")
    return value


def _networks(raw: str | None) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    found = []
    for item in (raw or "").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            found.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"SWITCHYARD_WEBHOOK_ALLOW_NETWORKS: {item!r} is not an address or CIDR") from None
    return tuple(found)


@dataclass(frozen=True)
class AutomationSettings:
    allow_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    require_https: bool = False
    max_attempts: int = 8
    retry_base: float = 2.0
    retry_max: float = 600.0
    timeout: float = 10.0
    queue_limit: int = 10_000
    scheduler_tick: float = 1.0

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, production: bool = False) -> "AutomationSettings":
        allow_http = (env.get("SWITCHYARD_WEBHOOK_ALLOW_HTTP") or "").strip().lower() in ("1", "true", "yes", "on")
        return cls(
            allow_networks=_networks(env.get("SWITCHYARD_WEBHOOK_ALLOW_NETWORKS")),
            require_https=production and not allow_http,
            max_attempts=int(_number(env, "SWITCHYARD_WEBHOOK_MAX_ATTEMPTS", 8, 1)),
            retry_base=_number(env, "SWITCHYARD_WEBHOOK_RETRY_BASE_SECONDS", 2.0, 0.001),
            retry_max=_number(env, "SWITCHYARD_WEBHOOK_RETRY_MAX_SECONDS", 600.0, 0.001),
            timeout=_number(env, "SWITCHYARD_WEBHOOK_TIMEOUT_SECONDS", 10.0, 0.1),
            queue_limit=int(_number(env, "SWITCHYARD_WEBHOOK_QUEUE_LIMIT", 10_000, 1)),
            scheduler_tick=_number(env, "SWITCHYARD_SCHEDULER_TICK_SECONDS", 1.0, 0.01),
        )
