"""Security settings, read once from the environment (the seed's variables and ours).

Modes (the seed's model):
- development (default): no authentication; the server is meant for loopback only.
- production: NODE_ENV=production or SWITCHYARD_ENV=production; needs DEXTO_SERVER_API_KEY
  or SWITCHYARD_API_KEY.
- explicit: DEXTO_SERVER_REQUIRE_AUTH=true or SWITCHYARD_REQUIRE_AUTH=true, in any environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_RATE_LIMIT = "600/minute"             # per API key, when auth is on
DEFAULT_ADDRESS_RATE_LIMIT = "1200/minute"    # per client address, when auth is on
DEFAULT_AUTH_FAILURE_LIMIT = "10/minute"      # failed authentications per address
DEFAULT_MAX_CONCURRENT_RUNS = 8
KEY_CACHE_SECONDS = 0.5                       # a revoked key stops working within this

_OFF = ("", "0", "off", "none", "false", "no")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _limit(env: Mapping[str, str], name: str, default: str | None) -> str | None:
    """A `limits` rate string from the environment; `off` disables; unset -> default."""
    if name not in env:
        return default
    value = env[name].strip()
    return None if value.lower() in _OFF else value


def _csv(*values: str | None) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        for item in (value or "").split(","):
            item = item.strip()
            if item and item not in out:
                out.append(item)
    return tuple(out)


@dataclass(frozen=True)
class SecuritySettings:
    production: bool
    require_auth_flag: bool
    root_key: str | None
    root_key_var: str | None        # which variable holds it, for messages (never the value)
    mode_var: str | None = None     # which variable turned auth on, for the fail-closed message
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    rate_limit: str | None = None               # per key (a key's own limit overrides it)
    address_rate_limit: str | None = None       # per client address
    auth_failure_limit: str | None = DEFAULT_AUTH_FAILURE_LIMIT
    max_concurrent_runs: int = 0                # per key; 0 = no cap
    redis_url: str | None = None
    rate_limit_namespace: str = "switchyard"
    # Replicas (docs/production.md): every Redis key of this deployment starts with the prefix;
    # a session's lease outlives a killed replica by at most the TTL (seconds).
    redis_prefix: str = "switchyard"
    session_lease_ttl: float = 30.0
    allowed_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    # The origins this server is published under (scheme://name[:port]), behind a proxy: the
    # only "same origin" in production, where a request's own Host is not trusted.
    public_origins: tuple[str, ...] = ()
    insecure_no_auth: bool = False
    database_url: str | None = None
    home: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SecuritySettings:
        mode_var = None
        for name in ("NODE_ENV", "SWITCHYARD_ENV"):
            if env.get(name) == "production":
                mode_var = mode_var or name
        production = mode_var is not None
        for name in ("DEXTO_SERVER_REQUIRE_AUTH", "SWITCHYARD_REQUIRE_AUTH"):
            if _truthy(env.get(name)):
                mode_var = mode_var or name
        require = _truthy(env.get("DEXTO_SERVER_REQUIRE_AUTH")) or _truthy(env.get("SWITCHYARD_REQUIRE_AUTH"))
        key, var = None, None
        for name in ("SWITCHYARD_API_KEY", "DEXTO_SERVER_API_KEY"):
            if env.get(name, "").strip():
                key, var = env[name].strip(), name
                break
        auth_on = production or require
        # Request limits apply when auth is on; in development mode (loopback only, one user)
        # only when set explicitly.
        rate = _limit(env, "SWITCHYARD_RATE_LIMIT", DEFAULT_RATE_LIMIT if auth_on else None)
        # Per address: its own variable; by default generous when auth is on, and in development
        # mode the same as SWITCHYARD_RATE_LIMIT when that is set.
        address_rate = _limit(env, "SWITCHYARD_RATE_LIMIT_PER_ADDRESS",
                              DEFAULT_ADDRESS_RATE_LIMIT if auth_on else rate)
        runs_raw = env.get("SWITCHYARD_MAX_CONCURRENT_RUNS_PER_KEY")
        if runs_raw is not None and runs_raw.strip():
            runs = int(runs_raw)
        else:
            runs = DEFAULT_MAX_CONCURRENT_RUNS if auth_on else 0
        return cls(
            production=production, require_auth_flag=require, root_key=key, root_key_var=var,
            mode_var=mode_var,
            max_body_bytes=int(env.get("SWITCHYARD_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES),
            rate_limit=rate, address_rate_limit=address_rate,
            auth_failure_limit=_limit(env, "SWITCHYARD_AUTH_FAILURE_LIMIT", DEFAULT_AUTH_FAILURE_LIMIT),
            max_concurrent_runs=max(0, runs),
            redis_url=(env.get("SWITCHYARD_REDIS_URL") or "").strip() or None,
            rate_limit_namespace=(env.get("SWITCHYARD_RATE_LIMIT_NAMESPACE") or env.get("SWITCHYARD_REDIS_PREFIX")
                                  or "switchyard").strip(),
            redis_prefix=(env.get("SWITCHYARD_REDIS_PREFIX") or "switchyard").strip(),
            session_lease_ttl=max(0.5, float(env.get("SWITCHYARD_SESSION_LEASE_TTL") or 30.0)),
            allowed_origins=tuple(o.rstrip("/") for o in _csv(env.get("SWITCHYARD_ALLOWED_ORIGINS"),
                                                              env.get("DEXTO_ALLOWED_ORIGINS"))),
            allowed_hosts=tuple(h.lower() for h in _csv(env.get("SWITCHYARD_ALLOWED_HOSTS"))),
            public_origins=tuple(o.rstrip("/").lower() for o in _csv(env.get("SWITCHYARD_PUBLIC_ORIGINS"))),
            insecure_no_auth=_truthy(env.get("SWITCHYARD_INSECURE_NO_AUTH")),
            database_url=(env.get("SWITCHYARD_DATABASE_URL") or "").strip() or None,
            home=env.get("SWITCHYARD_HOME") or None,
        )

    @property
    def auth_required(self) -> bool:
        return self.production or self.require_auth_flag

    @property
    def auth_required_with_key(self) -> bool:
        return self.auth_required and bool(self.root_key)

    @property
    def misconfigured(self) -> bool:
        """Auth is required but there is no key: protected routes fail closed (500)."""
        return self.auth_required and not self.root_key

    def config_error_message(self) -> str:
        cause = self.mode_var or "authentication"
        return (f"Authentication is required ({cause} is set) but no API key is configured. "
                "Set DEXTO_SERVER_API_KEY or SWITCHYARD_API_KEY.")

    def server_database_url(self) -> str:
        """Where keys and the audit log live: SWITCHYARD_DATABASE_URL, else sqlite under home."""
        if self.database_url:
            from switchyard.store.engine import postgres_async_url
            return postgres_async_url(self.database_url)
        home = Path(self.home) if self.home else Path.home() / ".switchyard"
        home.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{home / 'server.db'}"
