"""The model picker (`/api/llm/model-picker-state`): featured models, the caller's recent and
favourite ones (server/model_picker.py, one state per API key), custom models and installed
local models, each entry `{provider, model, baseURL?, displayName, supportedFileTypes, source}`.
Recording a recent or a favourite is the caller's own business: the `chat` scope."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from switchyard.config.schema import ProviderName
from switchyard.server.api.llm_models import NAME_PATTERN, URL_PATTERN
from switchyard.server.api.local_models import local_models
from switchyard.server.deps import principal_of
from switchyard.server.model_picker import FAVORITES_LIMIT, picker_key
from switchyard.server.model_settings import model_settings_of
from switchyard.server.routes import RouteGroup

routes = RouteGroup(tags=["llm"], order=40)

FEATURED_LIMIT = 8


class ModelRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: ProviderName  # type: ignore[valid-type]
    model: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN)
    baseURL: str | None = Field(None, max_length=2048, pattern=URL_PATTERN)


class Favorites(BaseModel):
    model_config = ConfigDict(extra="forbid")
    favorites: list[ModelRef] = Field(max_length=FAVORITES_LIMIT)


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


class Recorded(BaseModel):
    ok: Literal[True]


class Toggled(BaseModel):
    ok: Literal[True]
    isFavorite: bool


class FavoritesSet(BaseModel):
    ok: Literal[True]
    count: int


def owner_of(request: Request) -> str:
    return principal_of(request).name or ""


def _ref(body: ModelRef) -> dict[str, Any]:
    return body.model_dump(exclude_none=True)


def _dedupe(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    return [e for e in entries if not (picker_key(e) in seen or seen.add(picker_key(e)))]  # type: ignore[func-returns-value]


@routes.get("/api/llm/model-picker-state", scope="read",
            summary="The model picker: featured, the caller's recent and favourite, custom models",
            response_model=PickerState)
async def picker_state(request: Request) -> dict[str, Any]:
    from switchyard.llm.catalog import catalog
    providers = catalog({})["providers"]
    known: dict[str, dict[str, Any]] = {}
    featured = []
    for pid, info in providers.items():
        for i, model in enumerate(info["models"]):
            entry = {"provider": pid, "model": model["name"], "displayName": model.get("displayName") or model["name"],
                     "supportedFileTypes": model["supportedFileTypes"], "source": "catalog"}
            known.setdefault(picker_key(entry), entry)
            if i == 0 and len(featured) < FEATURED_LIMIT and pid not in ("echo", "local"):
                featured.append(entry)
    settings = model_settings_of(request)
    custom = []
    for model in await settings.list_models():
        provider = model.get("provider") or "openai-compatible"
        entry = {"provider": provider, "model": model["name"], "displayName": model.get("displayName") or model["name"],
                 "supportedFileTypes": providers.get(provider, {}).get("supportedFileTypes", []), "source": "custom"}
        if model.get("baseURL"):
            entry["baseURL"] = model["baseURL"]
        known[picker_key(entry)] = entry
        custom.append(entry)
    for local in local_models(request):
        entry = {"provider": "local", "model": local["id"], "displayName": local["displayName"],
                 "supportedFileTypes": [], "source": "local-installed"}
        known[picker_key(entry)] = entry

    def hydrated(saved: dict[str, Any]) -> dict[str, Any]:
        found = known.get(picker_key(saved))
        if found is not None:
            return found
        source = "local-installed" if saved["provider"] == "local" else "custom" if saved.get("baseURL") else "catalog"
        entry = {"provider": saved["provider"], "model": saved["model"], "displayName": saved["model"],
                 "supportedFileTypes": providers.get(saved["provider"], {}).get("supportedFileTypes", []),
                 "source": source}
        if saved.get("baseURL"):
            entry["baseURL"] = saved["baseURL"]
        return entry

    state = await settings.picker.state(owner_of(request))
    return {"featured": _dedupe(featured), "recents": [hydrated(e) for e in state["recents"]],
            "favorites": [hydrated(e) for e in state["favorites"]], "custom": _dedupe(custom)}


@routes.post("/api/llm/model-picker-state/recents", scope="chat", summary="Record a model as recently used",
             response_model=Recorded)
async def record_recent(request: Request, body: ModelRef) -> dict[str, Any]:
    await model_settings_of(request).picker.record_recent(owner_of(request), _ref(body))
    return {"ok": True}


@routes.post("/api/llm/model-picker-state/favorites/toggle", scope="chat",
             summary="Add a model to the favourites, or remove it", response_model=Toggled)
async def toggle_favorite(request: Request, body: ModelRef) -> dict[str, Any]:
    return {"ok": True, "isFavorite": await model_settings_of(request).picker.toggle_favorite(owner_of(request),
                                                                                               _ref(body))}


@routes.put("/api/llm/model-picker-state/favorites", scope="chat", summary="Replace the favourite models",
            response_model=FavoritesSet)
async def set_favorites(request: Request, body: Favorites) -> dict[str, Any]:
    count = await model_settings_of(request).picker.set_favorites(owner_of(request),
                                                                  [_ref(f) for f in body.favorites])
    return {"ok": True, "count": count}
