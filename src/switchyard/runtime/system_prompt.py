"""An agent's system prompt as a turn gets it: the agent file's contributors, contributors
added at run time (for the whole agent, or for one session: `/api/system-prompt/contributors`
and `/api/sessions/{id}/system-prompt/contributors`), and the memories of the session's
owner (the agent's `memories` config). Sections are ordered by priority, smaller first.

Run-time contributors live in this process's memory, as in the reference: they last until the
agent stops (or, for a session's, until the session is deleted). The agent file's `date` and
`resources` contributors are rendered again for every turn (`per_turn`): a server that runs for
days must not tell the model the day it started."""

from __future__ import annotations

import datetime as dt
import re
import asyncio
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from switchyard.config.schema import MemoriesConfig
from switchyard.errors import RequestError
from switchyard.store.memories import MemoryStore

DEFAULT_PRIORITY = 45
MAX_CONTENT = 120_000
MAX_ID = 80
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Section:
    id: str
    priority: int
    text: str


def contributor_id(raw: str) -> str:
    """The reference's sanitising: runs of other characters become `-`, trimmed, 80 at most."""
    cleaned = _UNSAFE_ID.sub("-", raw).strip("-")[:MAX_ID]
    if not cleaned:
        raise RequestError("`id` must contain a letter, a digit, `.` or `_`", code="validation_failed",
                           details={"issues": [{"path": "id", "message": "empty after sanitising"}]})
    return cleaned


class SystemPrompt:
    def __init__(self, agent_id: str, memories: MemoriesConfig, store: MemoryStore) -> None:
        self.agent_id = agent_id
        self.memories = memories
        self.store = store
        self.base: list[Section] = []                        # the agent file's, set at start
        self.runtime: dict[str, Section] = {}                # agent-wide, added at run time
        self.sessions: dict[str, dict[str, Section]] = {}    # per session
        # The file's contributors rendered for each turn: (id, priority, render).
        self.per_turn: list[tuple[str, int, Callable[[], Awaitable[str]]]] = []
        self._base_text = ""

    def set_base(self, sections: list[tuple[str, int, str]],
                 per_turn: list[tuple[str, int, Callable[[], Awaitable[str]]]] | None = None) -> None:
        """The agent file's contributors; `per_turn`: those rendered again for each turn."""
        self.base = [Section(*s) for s in sections]
        self._base_text = "\n\n".join(s.text for s in self.base)
        self.per_turn = per_turn or []

    # --- contributors --------------------------------------------------------------------

    def contributors(self, session_id: str | None = None) -> list[dict[str, Any]]:
        """What a prompt is built from, in order: `{id, priority}` each."""
        placeholders = {cid: Section(cid, priority, "") for cid, priority, _ in self.per_turn}
        listed = [{"id": s.id, "priority": s.priority} for s in self._sections(session_id, placeholders)]
        if self.memories.enabled:
            listed.append({"id": "memories", "priority": self.memories.priority})
        return sorted(listed, key=lambda c: c["priority"])

    def upsert(self, raw_id: str, content: str, priority: int | None, session_id: str | None = None) -> dict[str, Any]:
        cid = contributor_id(raw_id)
        if not content.strip():
            raise RequestError("`content` must not be empty for an enabled contributor",
                               code="systemprompt_contributor_config_invalid",
                               details={"issues": [{"path": "content", "message": "empty"}]})
        truncated = len(content) > MAX_CONTENT
        content = content[:MAX_CONTENT]
        table = self.runtime if session_id is None else self.sessions.setdefault(session_id, {})
        replaced = cid in table or (session_id is None and any(s.id == cid for s in self.base))
        priority = DEFAULT_PRIORITY if priority is None else int(priority)
        table[cid] = Section(cid, priority, content)
        return {"id": cid, "enabled": True, "priority": priority, "replaced": replaced,
                "contentLength": len(content), "truncated": truncated}

    def remove(self, raw_id: str, session_id: str | None = None) -> dict[str, Any]:
        cid = contributor_id(raw_id)
        table = self.runtime if session_id is None else self.sessions.get(session_id, {})
        removed = table.pop(cid, None) is not None
        if session_id is not None and not table:
            self.sessions.pop(session_id, None)
        return {"id": cid, "enabled": False, "removed": removed}

    def forget_session(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)

    def _sections(self, session_id: str | None, fresh: dict[str, Section] | None = None) -> list[Section]:
        merged = {s.id: s for s in self.base}
        merged.update(fresh or {})                       # the file's per-turn ones, as of now
        merged.update(self.runtime)                      # a run-time one replaces the file's
        if session_id is not None:
            merged.update(self.sessions.get(session_id, {}))
        return sorted(merged.values(), key=lambda s: s.priority)

    # --- the prompt of one turn ----------------------------------------------------------

    async def build(self, session: dict[str, Any]) -> str:
        if not (self.per_turn or self.runtime or self.memories.enabled or session["id"] in self.sessions):
            return self._base_text     # the common case, every turn: nothing added at run time
        fresh = None
        if self.per_turn:
            texts = await asyncio.gather(*(render() for _, _, render in self.per_turn))
            fresh = {cid: Section(cid, priority, text.strip())
                     for (cid, priority, _), text in zip(self.per_turn, texts)}
        sections = [s for s in self._sections(session["id"], fresh) if s.text]
        if self.memories.enabled:
            text = await self.memories_section(session.get("owner"))
            if text:
                sections.append(Section("memories", self.memories.priority, text))
                sections.sort(key=lambda s: s.priority)
        return "\n\n".join(s.text for s in sections)

    async def memories_section(self, owner: str | None) -> str:
        """The owner's memories, newest change first, as the `memories` config asks."""
        cfg = self.memories
        found = await self.store.list(self.agent_id, owner, pinned=True if cfg.pinnedOnly else None,
                                      limit=cfg.limit)
        if not found:
            return ""
        lines = ["## Memories", "What the user asked you to remember (most recent first):"]
        for memory in found:
            line = f"- {memory['content']}"
            if cfg.includeTags and memory.get("tags"):
                line += f" [tags: {', '.join(memory['tags'])}]"
            if cfg.includeTimestamps:
                when = dt.datetime.fromtimestamp(memory["updatedAt"] / 1000, dt.timezone.utc)
                line += f" ({when.strftime('%Y-%m-%d %H:%M UTC')})"
            lines.append(line)
        return "\n".join(lines)
