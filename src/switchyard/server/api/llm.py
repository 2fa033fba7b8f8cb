"""The model: what is current (never the key), switching it, and the catalog."""

from __future__ import annotations

from collections import ChainMap
from typing import Any

from fastapi import Request

from switchyard.logs import redact_url
from switchyard.server.deps import agent_for, sessions_for
from switchyard.server.model_settings import model_settings_of
from switchyard.config.schema import ProviderName
from switchyard.server.response_models import LLMCapabilities, LLMCatalog, LLMCurrent, LLMSwitched
from switchyard.server.routes import QueryParam, RouteGroup
from switchyard.server.schemas import LLMSwitchBody
from switchyard.server.settings import settings_of

# First of all groups: GET /api/llm/current is the most polled route.
routes = RouteGroup(tags=["llm"], order=10)


def public_config(cfg: Any, running: tuple[str, str] | None = None) -> dict[str, Any]:
    data = cfg.public_dict()
    if data.get("baseURL"):
        data["baseURL"] = redact_url(data["baseURL"])   # user:pass@ or ?api-key= in it
    if running is not None:
        # What is actually running, e.g. when the provider was detected from the environment.
        data["provider"], data["model"] = running
        if running[0] == "echo":
            data["displayName"] = "echo (offline test model, not a real LLM)"
    return data


@routes.get("/api/llm/current", scope="read", summary="The current model configuration (never the API key)",
            fast=True, response_model=LLMCurrent, errors=(404,),
            query=(QueryParam("sessionId", "A session whose model to show (it may have switched)"),
                   QueryParam("agentId", "The agent (default: the server's default agent)")))
async def current(request: Request) -> dict[str, Any]:
    sessionId = request.query_params.get("sessionId") or None
    agent = agent_for(request)
    if sessionId:
        await sessions_for(request, agent).get(sessionId)
        cfg = await agent.llm_config(sessionId)
    else:
        cfg = agent.config.llm
    return {"config": public_config(cfg, agent.models.running_as(cfg)), "routing": {"viaDexto": False}}


@routes.post("/api/llm/switch", scope="admin", summary="Switch the model, globally or for one session",
             response_model=LLMSwitched, errors=(404,))
async def switch(request: Request, body: LLMSwitchBody) -> dict[str, Any]:
    agent = agent_for(request, body.agentId)
    updates = body.model_dump(exclude_none=True, exclude={"sessionId", "agentId"})
    if "reasoning" in body.model_fields_set and body.reasoning is None:
        updates["reasoning"] = None
    settings = model_settings_of(request)
    await settings.refresh_keys()    # a key stored on another replica counts here too
    if body.model:
        custom = await settings.switch_defaults(body.model)
        if custom and body.provider in (None, custom.get("provider")):
            updates = {**custom, **updates}     # a custom model's fields, under the body's own
    if body.sessionId:
        await sessions_for(request, agent).get(body.sessionId)
    cfg = await agent.switch_llm(updates, body.sessionId)
    client = agent.client_for(cfg)
    audit = getattr(request.app.state, "audit", None)
    if audit is not None:
        await audit.record(request, "llm.switch", details={"provider": cfg.provider, "model": cfg.model,
                                                           "sessionId": body.sessionId})
    result: dict[str, Any] = {"config": public_config(cfg, (client.provider, client.model))}
    if body.sessionId:
        result["sessionId"] = body.sessionId
    return result


@routes.get("/api/llm/catalog", scope="read", summary="Providers and models Switchyard knows",
            response_model=LLMCatalog)
async def catalog(request: Request, mode: str = "grouped") -> dict[str, Any]:
    from switchyard.llm import catalog as llm_catalog
    # Which providers have a key: the server's environment, then the keys it stores.
    stored = request.app.state.host.stored_keys
    env = ChainMap(settings_of(request).env, stored) if stored else settings_of(request).env
    if mode == "flat":
        return llm_catalog.flat_catalog(env)
    return llm_catalog.catalog(env)


@routes.get("/api/llm/capabilities", scope="read", summary="What a provider's model takes, and its reasoning options",
            response_model=LLMCapabilities, errors=(400,))
async def capabilities(provider: ProviderName, model: str | None = None) -> dict[str, Any]:  # type: ignore[valid-type]
    from switchyard.llm import capabilities as llm_capabilities
    from switchyard.llm.presets import PRESETS
    return llm_capabilities.capabilities(provider, model or PRESETS[provider].default_model or "")
