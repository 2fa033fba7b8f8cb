"""What the built-in tools need from the runtime: search_history over the store, and the
paths no tool may touch without an explicit rule (the server's own data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from switchyard.store import Store

SNIPPET_CHARS = 240


def protected_paths(env: Mapping[str, str], store_url: str | None) -> list[Path]:
    """SWITCHYARD_HOME (keys, audit log, agent databases), the key/audit database when it is a
    SQLite file elsewhere, and the agent's own SQLite file."""
    home = Path(env.get("SWITCHYARD_HOME") or Path.home() / ".switchyard").expanduser()
    paths = [home]
    for url in (store_url, env.get("SWITCHYARD_DATABASE_URL")):
        if url and url.startswith("sqlite") and ":///" in url:
            file = url.split(":///", 1)[1].split("?", 1)[0]
            if file and file != ":memory:":
                paths.append(Path(file))
    return paths


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


class HistorySearch:
    """search_history: the owner's sessions of one agent, newest first, case-insensitive."""

    def __init__(self, agent_id: str, store: Store) -> None:
        self.agent_id = agent_id
        self.store = store

    async def __call__(self, query: str, session_id: str | None, role: str | None, limit: int,
                       owner: str | None) -> list[dict[str, Any]]:
        needle = query.casefold()
        sessions = await self.store.sessions.list(self.agent_id, owner=owner)
        found: list[dict[str, Any]] = []
        for session in sessions:
            if session_id and session["id"] != session_id:
                continue
            for message in await self.store.sessions.history(self.agent_id, session["id"]):
                if role and message.get("role") != role:
                    continue
                text = _text(message.get("content"))
                at = text.casefold().find(needle)
                if at < 0:
                    continue
                start = max(0, at - SNIPPET_CHARS // 2)
                found.append({"sessionId": session["id"], "messageId": message.get("id"),
                              "role": message.get("role"), "timestamp": message.get("timestamp"),
                              "snippet": text[start:start + SNIPPET_CHARS]})
                if len(found) >= limit:
                    return found
        return found
