"""Custom models (`/api/llm/custom-models`) and the provider keys this server stores
(`/api/llm/key`): kept in the server database by server/model_settings.py, keys encrypted.

A key is never returned: `GET /api/llm/key/{provider}` says whether there is one, where it
comes from, and at most its last 4 characters. A custom model's `apiKey` is stored encrypted
and shown only as `hasApiKey`. Both need the `admin` scope to change (the key also to read).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from switchyard.config.schema import ReasoningConfig
from switchyard.llm.presets import PRESETS
from switchyard.server.deps import principal_of
from switchyard.server.model_settings import model_settings_of
from switchyard.server.routes import RouteGroup
from switchyard.server.settings import settings_of

routes = RouteGroup(tags=["llm"], order=40)

CustomProvider = Literal["openai-compatible", "openrouter", "litellm", "glama", "bedrock", "ollama", "local",
                         "vertex", "dexto-nova"]


# Printable, without surrounding spaces (a pattern, so the OpenAPI document says so too).
NAME_PATTERN = r"^[^\x00-\x20\x7f](?:[^\x00-\x1f\x7f]*[^\x00-\x20\x7f])?$"
URL_PATTERN = r"^https?://"
KEY_PATTERN = r"^\S+$"

# The providers a key can be stored for: those that read one from an environment variable.
KeyProvider = Literal[tuple(name for name, preset in PRESETS.items() if preset.key_env)]  # type: ignore[misc]


class CustomModelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN,
                      description="The model id the provider is asked for")
    provider: CustomProvider = "openai-compatible"
    baseURL: str | None = Field(None, max_length=2048, pattern=URL_PATTERN,
                                description="Needed by openai-compatible models to be switched to")
    displayName: str | None = Field(None, max_length=200)
    maxInputTokens: int | None = Field(None, gt=0)
    maxOutputTokens: int | None = Field(None, gt=0)
    apiKey: str | None = Field(None, min_length=1, max_length=4096, description="Stored encrypted, never returned")
    filePath: str | None = Field(None, max_length=4096)
    reasoning: ReasoningConfig | None = None


class CustomModel(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    provider: str | None = None
    baseURL: str | None = None
    displayName: str | None = None
    maxInputTokens: int | None = None
    maxOutputTokens: int | None = None
    filePath: str | None = None
    reasoning: dict[str, Any] | None = None
    hasApiKey: bool = Field(description="Whether the model has its own key (never returned)")


class CustomModelList(BaseModel):
    models: list[CustomModel]


class CustomModelSaved(BaseModel):
    ok: Literal[True]
    model: CustomModel


class CustomModelDeleted(BaseModel):
    ok: Literal[True]
    deleted: str


class ProviderKeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: KeyProvider  # type: ignore[valid-type]
    apiKey: str = Field(min_length=1, max_length=4096, pattern=KEY_PATTERN)


class ProviderKeySaved(BaseModel):
    ok: Literal[True]
    provider: str
    envVar: str


class ProviderKeyStatus(BaseModel):
    provider: str
    envVar: str
    hasKey: bool
    keyValue: str | None = Field(None, description="Masked: at most the key's last 4 characters")
    source: Literal["environment", "stored"] | None = None


def _safe_body(model: Any) -> dict[str, Any]:
    data = model.model_dump(exclude_none=True)
    if "reasoning" in data:
        data["reasoning"] = model.reasoning.model_dump(exclude_none=True)
    return data


@routes.get("/api/llm/custom-models", scope="read", summary="The custom models saved on this server",
            response_model=CustomModelList)
async def list_custom_models(request: Request) -> dict[str, Any]:
    return {"models": await model_settings_of(request).list_models()}


@routes.post("/api/llm/custom-models", scope="admin", summary="Save a custom model (replaces one of that name)",
             response_model=CustomModelSaved)
async def save_custom_model(request: Request, body: CustomModelBody) -> dict[str, Any]:
    return {"ok": True, "model": await model_settings_of(request).save_model(_safe_body(body))}


@routes.delete("/api/llm/custom-models/{name:path}", scope="admin", summary="Delete a custom model",
               response_model=CustomModelDeleted, errors=(404,))
async def delete_custom_model(request: Request, name: str) -> dict[str, Any]:
    await model_settings_of(request).delete_model(name)
    return {"ok": True, "deleted": name}


@routes.post("/api/llm/key", scope="admin",
             summary="Store a provider API key for this server (encrypted; never returned)",
             response_model=ProviderKeySaved)
async def save_key(request: Request, body: ProviderKeyBody) -> dict[str, Any]:
    env_var = await model_settings_of(request).set_key(body.provider, body.apiKey, by=principal_of(request).name)
    return {"ok": True, "provider": body.provider, "envVar": env_var}


@routes.get("/api/llm/key/{provider}", scope="admin",
            summary="Whether a provider has a key (never the key: at most its last 4 characters)",
            response_model=ProviderKeyStatus)
async def key_status(request: Request, provider: KeyProvider) -> dict[str, Any]:  # type: ignore[valid-type]
    return await model_settings_of(request).key_status(provider, settings_of(request).env)
