"""The OpenAI-compatible routes, `/v1/chat/completions` and `/v1/models[/{model}]`: declared
with their scopes in openai_compat.py (`build_router`, over the hosted agents)."""

from __future__ import annotations

from fastapi import FastAPI

from switchyard.runtime.host import AgentHost


def install(app: FastAPI, host: AgentHost) -> None:
    from switchyard.server.protocols.openai_compat import build_router
    build_router(host).install(app)
