"""The model: what is current (never the key), switching it, and the catalog."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Request

from switchyard.server.deps import agent_for, sessions_for
from switchyard.server.plain_routes import PlainRouter, QueryParam
from switchyard.server.schemas import LLMSwitchBody

router = APIRouter(tags=["llm"])
plain = PlainRouter(tags=["llm"])


def public_config(cfg: Any, client: Any = None) -> dict[str, Any]:
    data = cfg.public_dict()
    if client is not None:
        # What is actually running, e.g. when the provider was detected from the environment.
        data["provider"], data["model"] = client.provider, client.model
        if client.provider == "echo":
            data["displayName"] = "echo (offline test model, not a real LLM)"
    return data


@plain.get("/api/llm/current", summary="The current model configuration (never the API key)",
           query=(QueryParam("sessionId", "A session whose model to show (it may have switched)"),
                  QueryParam("agentId", "The agent (default: the server's default agent)")))
async def current(request: Request) -> dict[str, Any]:
    sessionId = request.query_params.get("sessionId") or None
    agent = agent_for(request)
    if sessionId:
        await sessions_for(request, agent).get(sessionId)
        cfg = await agent.llm_config(sessionId)
        client = agent.client_for(cfg)
    else:
        cfg, client = agent.config.llm, agent.llm
    return {"config": public_config(cfg, client), "routing": {"viaDexto": False}}


@router.post("/api/llm/switch", summary="Switch the model, globally or for one session")
async def switch(request: Request, body: LLMSwitchBody) -> dict[str, Any]:
    agent = agent_for(request, body.agentId)
    updates = body.model_dump(exclude_none=True, exclude={"sessionId", "agentId"})
    if body.sessionId:
        await sessions_for(request, agent).get(body.sessionId)
    cfg = await agent.switch_llm(updates, body.sessionId)
    client = agent.client_for(cfg)
    audit = getattr(request.app.state, "audit", None)
    if audit is not None:
        await audit.record(request, "llm.switch", details={"provider": cfg.provider, "model": cfg.model,
                                                           "sessionId": body.sessionId})
    result: dict[str, Any] = {"config": public_config(cfg, client)}
    if body.sessionId:
        result["sessionId"] = body.sessionId
    return result


@router.get("/api/llm/catalog", summary="Providers and models Switchyard knows")
async def catalog(mode: str = "grouped") -> dict[str, Any]:
    from switchyard.llm import catalog as llm_catalog
    if mode == "flat":
        return llm_catalog.flat_catalog(os.environ)
    return llm_catalog.catalog(os.environ)
