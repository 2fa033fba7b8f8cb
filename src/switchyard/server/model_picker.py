"""Each API key's model picker state: its recently used models (the last 10, newest first; a
model switch records one) and its favourites (at most 100), kept in the server database, one
row per key. An entry is `{provider, model, baseURL?, updatedAt}`, the same model being
`provider|model|baseURL` (as the reference keys them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, select

from switchyard.ids import now_ms
from switchyard.store.database import Database
from switchyard.store.tables import model_picker_state

RECENTS_LIMIT = 10
FAVORITES_LIMIT = 100


def picker_key(entry: dict[str, Any]) -> str:
    key = f"{entry['provider']}|{entry['model']}"
    return f"{key}|{entry['baseURL']}" if entry.get("baseURL") else key


def _entry(ref: dict[str, Any], now: str) -> dict[str, Any]:
    entry = {"provider": ref["provider"], "model": ref["model"], "updatedAt": now}
    if ref.get("baseURL"):
        entry["baseURL"] = ref["baseURL"]
    return entry


def _normalized(entries: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    seen: set[str] = set()
    kept = []
    for entry in entries:
        key = picker_key(entry)
        if key not in seen:
            seen.add(key)
            kept.append(entry)
    return kept[:limit]


def _update(conn: Connection, owner: str, change: Callable[[dict[str, Any]], Any]) -> Any:
    """Read-change-write one key's state in one transaction (the row locked on Postgres)."""
    row = conn.execute(select(model_picker_state.c.state).where(model_picker_state.c.owner == owner)
                       .with_for_update()).first()
    state = {"recents": [], "favorites": [], **(row.state if row is not None else {})}
    result = change(state)
    values = {"state": state, "updated_at": now_ms()}
    if row is None:
        conn.execute(model_picker_state.insert().values(owner=owner, **values))
    else:
        conn.execute(model_picker_state.update().where(model_picker_state.c.owner == owner).values(**values))
    return result


class ModelPicker:
    def __init__(self, db: Database, opened: Callable[[], Awaitable[None]]) -> None:
        self.db = db
        self._open = opened

    async def state(self, owner: str) -> dict[str, list[dict[str, Any]]]:
        await self._open()
        row = await self.db.read(lambda conn: conn.execute(
            select(model_picker_state.c.state).where(model_picker_state.c.owner == owner)).first())
        state = row.state if row is not None else {}
        return {"recents": list(state.get("recents") or []), "favorites": list(state.get("favorites") or [])}

    async def _change(self, owner: str, change: Callable[[dict[str, Any]], Any]) -> Any:
        await self._open()
        return await self.db.write(_update, owner, change)

    async def record_recent(self, owner: str, ref: dict[str, Any]) -> None:
        def change(state: dict[str, Any]) -> None:
            state["recents"] = _normalized([_entry(ref, _now()), *state["recents"]], RECENTS_LIMIT)
        await self._change(owner, change)

    async def toggle_favorite(self, owner: str, ref: dict[str, Any]) -> bool:
        def change(state: dict[str, Any]) -> bool:
            key = picker_key(ref)
            if any(picker_key(e) == key for e in state["favorites"]):
                state["favorites"] = [e for e in state["favorites"] if picker_key(e) != key]
                return False
            state["favorites"] = _normalized([_entry(ref, _now()), *state["favorites"]], FAVORITES_LIMIT)
            return True
        return await self._change(owner, change)

    async def set_favorites(self, owner: str, refs: list[dict[str, Any]]) -> int:
        def change(state: dict[str, Any]) -> int:
            now = _now()
            state["favorites"] = _normalized([_entry(r, now) for r in refs], FAVORITES_LIMIT)
            return len(state["favorites"])
        return await self._change(owner, change)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
