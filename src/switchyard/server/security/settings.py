"""Security settings, read once from the environment (the seed's variables and ours)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class SecuritySettings:
    production: bool
    require_auth_flag: bool
    root_key: str | None
    root_key_var: str | None  # which variable holds it, for messages (never the value)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "SecuritySettings":
        production = (env.get("NODE_ENV") == "production" or env.get("SWITCHYARD_ENV") == "production")
        require = _truthy(env.get("DEXTO_SERVER_REQUIRE_AUTH")) or _truthy(env.get("SWITCHYARD_REQUIRE_AUTH"))
        key, var = None, None
        for name in ("SWITCHYARD_API_KEY", "DEXTO_SERVER_API_KEY"):
            if env.get(name):
                key, var = env[name], name
                break
        return cls(production=production, require_auth_flag=require, root_key=key, root_key_var=var)

    @property
    def auth_required(self) -> bool:
        return self.production or self.require_auth_flag

    @property
    def auth_required_with_key(self) -> bool:
        return self.auth_required and bool(self.root_key)
