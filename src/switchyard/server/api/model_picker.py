"""The model picker's state (the reference's `/api/llm/model-picker-state`): featured models from
the catalog, and each key's own recents and favorites, kept in the agent's store per key (so
they follow the user from one browser or replica to another). Recents keep the last 10, newest
first; favorites at most 100. `?agentId=` names the agent."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from switchyard.config.schema import ProviderName
from switchyard.server.deps import agent_for, principal_of
from switchyard.server.routes import RouteGroup

routes = RouteGroup(tags=["llm"], order=95)

PREFERENCE = "model-picker"
RECENTS_LIMIT = 10
FAVORITES_LIMIT = 100
FEATURED_LIMIT = 8


class PickerModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    provider: ProviderName  # type: ignore[valid-type]
    model: str = Field(min_length=1, max_length=200)
    baseURL: str | None = Field(None, min_length=1, max_length=2048)


class FavoritesBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    favorites: list[PickerModel] = Field(max_length=FAVORITES_LIMIT)


class PickerEntry(BaseModel):
    provider: str
    model: str
    baseURL: str | None = None
    displayName: str | None = None
    supportedFileTypes: list[str]
    source: Literal["catalog", "custom", "local-installed"]


class PickerState(BaseModel):
    featured: list[PickerEntry]
    recents: list[PickerEntry]
    favorites: list[PickerEntry]
    custom: list[PickerEntry]


class Saved(BaseModel):
    ok: Literal[True]
    count: int


class Toggled(BaseModel):
    ok: Literal[True]
    isFavorite: bool


class Ok(BaseModel):
    ok: Literal[True]


def _key(entry: dict[str, Any]) -> tuple[str, str, str]:
    return entry["provider"], entry["model"], entry.get("baseURL") or ""


def _stored(model: PickerModel) -> dict[str, Any]:
    entry = {"provider": model.provider, "model": model.model,
             "updatedAt": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")}
    if model.baseURL:
        entry["baseURL"] = model.baseURL
    return entry


def _unique(entries: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for entry in entries:
        if _key(entry) not in seen:
            seen.add(_key(entry))
            out.append(entry)
    return out[:limit]


def _catalog() -> dict[tuple[str, str], dict[str, Any]]:
    from switchyard.llm.catalog import flat_catalog
    return {(m["provider"], m["name"]): m for m in flat_catalog()["models"]}


def _entry(stored: dict[str, Any], known: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    found = known.get((stored["provider"], stored["model"]))
    entry = {"provider": stored["provider"], "model": stored["model"],
             "supportedFileTypes": list(found["supportedFileTypes"]) if found else [],
             "source": "catalog" if found else "custom"}
    if stored.get("baseURL"):
        entry["baseURL"] = stored["baseURL"]
    if found:
        entry["displayName"] = found["displayName"]
    return entry


def _featured() -> list[dict[str, Any]]:
    """Each provider's default model, providers with a key first, at most 8."""
    from switchyard.llm.catalog import catalog
    providers = catalog()["providers"]
    ordered = sorted(providers.items(), key=lambda item: not item[1]["hasApiKey"])
    return [{"provider": pid, "model": p["models"][0]["name"], "displayName": p["models"][0]["displayName"],
             "supportedFileTypes": list(p["models"][0]["supportedFileTypes"]), "source": "catalog"}
            for pid, p in ordered if p["models"]][:FEATURED_LIMIT]


async def _change(request: Request, change: Any) -> dict[str, Any]:
    agent = agent_for(request)
    empty = {"recents": [], "favorites": []}
    return await agent.store.preferences.update(agent.id, principal_of(request).name, PREFERENCE,
                                                lambda current: change(dict(current or empty)))


@routes.get("/api/llm/model-picker-state", scope="read", response_model=PickerState, errors=(404,),
            summary="Featured models, and this key's recents and favorites")
async def picker_state(request: Request) -> dict[str, Any]:
    agent = agent_for(request)
    state = await agent.store.preferences.get(agent.id, principal_of(request).name, PREFERENCE) or {}
    known = _catalog()
    return {"featured": _featured(),
            "recents": [_entry(e, known) for e in state.get("recents", [])],
            "favorites": [_entry(e, known) for e in state.get("favorites", [])],
            "custom": await _custom(request)}


async def _custom(request: Request) -> list[dict[str, Any]]:
    """The server's custom models (/api/llm/custom-models), as picker entries."""
    from switchyard.server.model_settings import model_settings_of
    entries = []
    for model in await model_settings_of(request).list_models():
        entry = {"provider": model.get("provider") or "openai-compatible", "model": model["name"],
                 "displayName": model.get("displayName") or model["name"], "supportedFileTypes": [],
                 "source": "custom"}
        if model.get("baseURL"):
            entry["baseURL"] = model["baseURL"]
        entries.append(entry)
    return entries


@routes.put("/api/llm/model-picker-state/favorites", scope="chat", response_model=Saved, errors=(404,),
            summary="Replace this key's favorite models")
async def set_favorites(request: Request, body: FavoritesBody) -> dict[str, Any]:
    def change(state: dict[str, Any]) -> dict[str, Any]:
        state["favorites"] = _unique([_stored(m) for m in body.favorites], FAVORITES_LIMIT)
        return state
    state = await _change(request, change)
    return {"ok": True, "count": len(state["favorites"])}


@routes.post("/api/llm/model-picker-state/favorites/toggle", scope="chat", response_model=Toggled, errors=(404,),
             summary="Add a model to this key's favorites, or remove it")
async def toggle_favorite(request: Request, body: PickerModel) -> dict[str, Any]:
    target = _key(_stored(body))
    now_favorite = False

    def change(state: dict[str, Any]) -> dict[str, Any]:
        nonlocal now_favorite
        favorites = list(state.get("favorites", []))
        kept = [e for e in favorites if _key(e) != target]
        now_favorite = len(kept) == len(favorites)
        state["favorites"] = _unique([_stored(body), *kept] if now_favorite else kept, FAVORITES_LIMIT)
        return state
    await _change(request, change)
    return {"ok": True, "isFavorite": now_favorite}


@routes.post("/api/llm/model-picker-state/recents", scope="chat", response_model=Ok, errors=(404,),
             summary="Record a model as this key's most recent")
async def add_recent(request: Request, body: PickerModel) -> dict[str, Any]:
    def change(state: dict[str, Any]) -> dict[str, Any]:
        state["recents"] = _unique([_stored(body), *state.get("recents", [])], RECENTS_LIMIT)
        return state
    await _change(request, change)
    return {"ok": True}
