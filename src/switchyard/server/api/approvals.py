"""Tool-call approvals: GET /api/approvals?sessionId lists the pending ones, POST
/api/approvals/{approvalId} answers one (the reference's strict body rules).

An approval belongs to the agent whose run asked for it; without `agentId` every hosted agent
is searched. With replicas, the pending approvals of every replica are listed, and an answer
given here to another replica's approval is handed to the run waiting there (runtime/replicas.py). A caller sees and answers only approvals of sessions it may see (another key's
approval is "not found", not "forbidden", like sessions).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Query, Request

from switchyard.errors import NotFoundError, RequestError, SwitchyardError
from switchyard.runtime import replicas
from switchyard.server.deps import host_of, sessions_for
from switchyard.server.response_models import ApprovalAnswered, ApprovalList
from switchyard.server.routes import RouteGroup
from switchyard.server.schemas import SessionId

routes = RouteGroup(tags=["approvals"], order=80)


def _agents(request: Request) -> list[Any]:
    agent_id = request.query_params.get("agentId")
    host = host_of(request)
    # A replaced agent's turns may still wait for an answer (runtime/agent_swap.py).
    if agent_id:
        return [host.get(agent_id), *(a for a in host.retiring if a.id == agent_id)]
    return [*host.agents.values(), *host.retiring]


@routes.get("/api/approvals", scope="read", response_model=ApprovalList, errors=(404,),
            summary="Pending approvals of a session")
async def list_approvals(request: Request,
                         sessionId: Annotated[SessionId, Query(description="The session")]) -> dict[str, Any]:
    approvals: list[dict[str, Any]] = []
    for agent in _agents(request):
        if agent.approvals is None:
            continue
        pending = agent.approvals.pending(sessionId)
        here = {p["approvalId"] for p in pending}
        pending += [p for p in await replicas.pending_elsewhere(agent, sessionId) if p["approvalId"] not in here]
        if pending and await sessions_for(request, agent).may_see(sessionId):
            approvals += pending
    return {"ok": True, "approvals": approvals}


class _NoCoordinator(SwitchyardError):
    status = 503
    code = "approvals_unavailable"


def _approval_body_doc() -> dict[str, Any]:
    """The body validate_approval_body accepts (read by hand, so documented by hand)."""
    from switchyard.tools.approval import CANCEL_REASONS, DENY_REASONS
    approved = {"type": "object", "additionalProperties": False, "required": ["status"],
                "properties": {"status": {"const": "approved"}, "formData": {"type": "object"},
                               "rememberChoice": {"type": "boolean"}}}

    def refused(status: str, reasons: tuple[str, ...]) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": False, "required": ["status"],
                "properties": {"status": {"const": status}, "reason": {"enum": list(reasons)},
                               "message": {"type": "string"}}}
    schema = {"oneOf": [approved, refused("denied", DENY_REASONS), refused("cancelled", CANCEL_REASONS)]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@routes.post("/api/approvals/{approvalId}", scope="chat", response_model=ApprovalAnswered, errors=(404, 503),
             summary="Approve, deny or cancel a pending approval", openapi_extra=_approval_body_doc())
async def answer_approval(request: Request, approvalId: str) -> dict[str, Any]:
    from switchyard.tools.approval import validate_approval_body
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError as exc:
        raise RequestError(f"request body is not valid JSON: {exc}", code="invalid_json") from None
    data = validate_approval_body(body)   # 400 naming the field, before any lookup

    agents = _agents(request)
    if all(a.approvals is None for a in agents):
        raise _NoCoordinator("no approval coordinator is running")
    not_found = NotFoundError(f"No pending approval '{approvalId}'", code="approval_not_found",
                              details={"approvalId": approvalId})
    for agent in agents:
        if agent.approvals is None:
            continue
        payload = next((p for p in agent.approvals.pending() if p["approvalId"] == approvalId), None)
        if payload is None:
            continue
        if not await sessions_for(request, agent).may_see(payload["sessionId"]):
            raise not_found
        outcome = agent.approvals.resolve(
            approvalId, data["status"], remember=data.get("rememberChoice", False),
            reason=data.get("reason"), message=data.get("message"), form_data=data.get("formData"))
        return {"ok": True, "approvalId": approvalId, "status": outcome.status}
    for agent in agents:
        if await replicas.answer_elsewhere(agent, approvalId, data, sessions_for(request, agent).may_see):
            return {"ok": True, "approvalId": approvalId, "status": data["status"]}
    raise not_found
