"""Who is calling: the identity every access check below the server is made against.

The server's authentication layer turns a bearer key into a `Principal` and leaves it in the
request scope (server/deps.py `principal_of`); the runtime only ever sees the `Principal`, so
the same checks serve REST, A2A, MCP over HTTP or stdio, and the OpenAI-compatible API.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    """Who is calling. In development mode (no auth) everyone is the anonymous admin."""

    name: str | None
    scopes: frozenset[str] = field(default_factory=lambda: frozenset({"read", "chat", "admin"}))
    is_root: bool = False

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes


# The caller when nothing authenticated it: no auth configured, or a local transport (MCP
# over stdio). It sees every session and records no owner on those it creates.
ANONYMOUS = Principal(name=None, is_root=True)
