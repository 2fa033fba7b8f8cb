"""An agent's memories and message search as one caller may use them: every ownership check
for memories and search is here (the pattern of session_access.py).

- A memory records the name of the key that created it. Admin keys and no-auth mode (the
  anonymous admin) reach every memory; any other key reaches only its own, and another
  key's memory is answered exactly like a missing one (404 `memory_not_found`).
- Search finds messages only in the sessions the caller may see (its own; all for admins).
- The agent's `memory_*` tools act for the session's owner (tools/memory_tools.py), and the
  memories in a session's system prompt are its owner's (runtime/system_prompt.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from switchyard.principal import Principal
from switchyard.store.memories import ALL

if TYPE_CHECKING:
    from switchyard.runtime.agent import Agent


def owner_filter(principal: Principal) -> Any:
    """Whose rows the caller reaches: ALL for admins (and no-auth mode), else its own name."""
    return ALL if principal.is_admin else principal.name


class MemoryAccess:
    """The memories of `agent`, as `principal` may see and change them. Cheap: one per call."""

    def __init__(self, agent: "Agent", principal: Principal) -> None:
        self.agent = agent
        self.principal = principal
        self._store = agent.store.memories
        self._reach = owner_filter(principal)

    async def create(self, content: str, *, tags: list[str] | None = None,
                     metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """A new memory owned by the caller (admins too: it is theirs, and they see all)."""
        return await self._store.create(self.agent.id, self.principal.name, content, tags=tags, metadata=metadata)

    async def list(self, **filters: Any) -> list[dict[str, Any]]:
        return await self._store.list(self.agent.id, self._reach, **filters)

    async def get(self, memory_id: str) -> dict[str, Any]:
        return await self._store.get(self.agent.id, self._reach, memory_id)

    async def update(self, memory_id: str, **changes: Any) -> dict[str, Any]:
        return await self._store.update(self.agent.id, self._reach, memory_id, **changes)

    async def delete(self, memory_id: str) -> None:
        await self._store.delete(self.agent.id, self._reach, memory_id)


class SearchAccess:
    """Full-text search over the messages of the sessions `principal` may see."""

    def __init__(self, agent: "Agent", principal: Principal) -> None:
        self.agent = agent
        self._reach = owner_filter(principal)

    async def messages(self, q: str, **options: Any) -> tuple[list[dict[str, Any]], int]:
        return await self.agent.store.search.messages(self.agent.id, self._reach, q, **options)

    async def sessions(self, q: str, **options: Any) -> tuple[list[dict[str, Any]], int]:
        return await self.agent.store.search.sessions(self.agent.id, self._reach, q, **options)

