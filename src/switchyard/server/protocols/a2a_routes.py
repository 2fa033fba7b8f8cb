"""The A2A routes. The service behind them (a2a_jsonrpc.py) and the a2a-sdk it uses are
imported on the first A2A request, not at start-up: the SDK's import is a large part of a
cold start and most deployments never see an A2A call in their first second."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from switchyard.runtime.host import AgentHost
from switchyard.server.routes import RouteGroup


class LazyA2AService:
    def __init__(self, host: AgentHost) -> None:
        self.host = host
        self._service: Any = None

    def get(self) -> Any:
        if self._service is None:
            from switchyard.server.protocols.a2a_jsonrpc import A2AService
            self._service = A2AService(self.host)
        return self._service


def install(app: FastAPI, host: AgentHost) -> "LazyA2AService":
    from switchyard.server.api.meta import base_url
    from switchyard.server.card import agent_prefix, build_card

    service = LazyA2AService(host)
    app.state.a2a = service

    async def jsonrpc_default(request: Request) -> Response:
        return await service.get().handle(request, host.default)

    async def jsonrpc_agent(request: Request, agent_id: str) -> Response:
        return await service.get().handle(request, host.get(agent_id))

    def info(path: str) -> dict[str, Any]:
        return {"service": "A2A JSON-RPC", "version": "0.3.0", "protocolVersions": ["1.0", "0.3"],
                "endpoint": path, "methods": sorted(service.get().methods),
                "usage": "POST a JSON-RPC 2.0 request, e.g. {\"jsonrpc\":\"2.0\",\"id\":1,"
                         "\"method\":\"message/send\",\"params\":{\"message\":{\"role\":\"user\","
                         "\"parts\":[{\"kind\":\"text\",\"text\":\"Hello\"}],\"messageId\":\"m1\"}}}"}

    async def info_default(request: Request) -> dict[str, Any]:
        return info("/jsonrpc")

    async def info_agent(request: Request, agent_id: str) -> dict[str, Any]:
        host.get(agent_id)
        return info(f"{agent_prefix(agent_id)}/jsonrpc")

    async def agent_card(request: Request, agent_id: str) -> JSONResponse:
        agent = host.get(agent_id)
        return JSONResponse(build_card(agent, base_url(request), auth_required=request.app.state.auth_required,
                                       path_prefix=agent_prefix(agent.id)))

    routes = RouteGroup(tags=["a2a"])
    routes.post("/jsonrpc", scope="chat", runs=True, summary="A2A JSON-RPC (default agent)")(jsonrpc_default)
    routes.get("/jsonrpc", scope="read", summary="A2A JSON-RPC usage")(info_default)
    routes.post("/agents/{agent_id}/jsonrpc", scope="chat", runs=True, errors=(404,),
                summary="A2A JSON-RPC of one hosted agent")(jsonrpc_agent)
    routes.get("/agents/{agent_id}/jsonrpc", scope="read", errors=(404,),
               summary="A2A JSON-RPC usage of one hosted agent")(info_agent)
    routes.get("/agents/{agent_id}/.well-known/agent-card.json", scope="public", errors=(404,),
               summary="The A2A agent card of one hosted agent")(agent_card)
    routes.install(app)
    return service
