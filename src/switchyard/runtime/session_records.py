"""An agent's sessions as records: create, read, list, fork, retitle, reset and delete them
(the store holds them; a session with a running turn has it cancelled first)."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from switchyard.errors import NotFoundError
from switchyard.events import Event, TitleUpdatedEvent
from switchyard.ids import new_id
from switchyard.runtime.runs import Runs
from switchyard.runtime.sessions import LiveSessions
from switchyard.store import Store


class SessionRecords:
    def __init__(self, agent_id: str, store: Store, live: LiveSessions, runs: Runs,
                 publish: Callable[[Event], Awaitable[None]]) -> None:
        self.agent_id = agent_id
        self.store = store
        self.live = live
        self.runs = runs
        self._publish = publish

    async def create(self, session_id: str | None = None, *,
                     owner: str | None = None) -> tuple[dict[str, Any], bool]:
        return await self.store.sessions.create(self.agent_id, session_id or new_id(), owner=owner)

    async def get(self, session_id: str) -> dict[str, Any]:
        session = await self.store.sessions.get(self.agent_id, session_id)
        if session is None:
            raise NotFoundError(f"session {session_id!r} not found", code="session_not_found")
        return session

    async def list(self, *, owner: str | None = None) -> list[dict[str, Any]]:
        return await self.store.sessions.list(self.agent_id, owner=owner)

    async def delete(self, session_id: str) -> bool:
        await self.runs.cancel(session_id)
        self.live.drop(session_id)
        return await self.store.sessions.delete(self.agent_id, session_id)

    async def fork(self, session_id: str, *, owner: str | None = None) -> dict[str, Any]:
        parent = await self.get(session_id)
        title = f"Fork: {parent['title']}" if parent.get("title") else session_id[:8]
        return await self.store.sessions.fork(self.agent_id, session_id, new_id(), title=title[:200], owner=owner)

    async def history(self, session_id: str) -> list[dict[str, Any]]:
        await self.get(session_id)
        return await self.store.sessions.history(self.agent_id, session_id)

    async def reset(self, session_id: str) -> None:
        await self.get(session_id)
        await self.runs.cancel(session_id)
        await self.store.sessions.clear_history(self.agent_id, session_id)

    async def set_title(self, session_id: str, title: str) -> dict[str, Any]:
        await self.get(session_id)
        await self.store.sessions.update(self.agent_id, session_id, title=title)
        await self._publish(TitleUpdatedEvent(session_id, title))
        return await self.get(session_id)
