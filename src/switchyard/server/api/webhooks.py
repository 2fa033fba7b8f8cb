"""Webhooks: the reference's routes (create, list, get, delete, test), persisted and owned by
the key that made them, plus what the reference lacks: a per-webhook event filter and agent
filter, and the delivery log with its dead letters (GET .../deliveries, POST .../retry).
Signing, retries and the URL policy: automation/ (README "Webhooks")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query, Request
from pydantic import BaseModel, ConfigDict, Field

from switchyard.automation.webhooks import webhook_view
from switchyard.server.automation import automation_of
from switchyard.server.deps import principal_of
from switchyard.server.routes import RouteGroup

routes = RouteGroup(tags=["webhooks"], order=90)


class WebhookBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, description="http(s) URL; see the URL policy")
    secret: str | None = Field(None, description="HMAC key for the signature; generated (and shown once) if absent")
    description: str | None = Field(None, max_length=500)
    events: list[str] | None = Field(None, max_length=64,
                                     description="event names to receive (`*`: all); default: the run events")
    agentId: str | None = Field(None, description="only this agent's events (default: every hosted agent)")


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class WebhookOut(_Out):
    id: str
    url: str
    description: str | None = None
    createdAt: str
    events: list[str]
    agentId: str | None = None


class WebhookCreated(_Out):
    webhook: WebhookOut
    secret: str | None = Field(None, description="only when the server generated it: shown this once")


class WebhookOne(_Out):
    webhook: WebhookOut


class WebhookList(_Out):
    webhooks: list[WebhookOut]


class WebhookRemoved(_Out):
    status: Literal["removed"]
    webhookId: str


class TestResult(_Out):
    success: bool
    statusCode: int | None = None
    responseTime: int | None = None
    error: str | None = None


class WebhookTested(_Out):
    test: Literal["completed"]
    result: TestResult


class Delivery(_Out):
    id: str
    eventType: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    lastStatusCode: int | None = None
    lastError: str | None = None
    createdAt: int
    nextAttemptAt: int | None = None
    finishedAt: int | None = None


class DeliveryList(_Out):
    deliveries: list[Delivery]


class Redriven(_Out):
    requeued: Literal[True]
    deliveryId: str


@routes.post("/api/webhooks", scope="admin", status_code=201, response_model=WebhookCreated,
             summary="Register a webhook")
async def create_webhook(request: Request, body: WebhookBody) -> dict[str, Any]:
    hook, generated = await automation_of(request).webhooks.create(
        principal_of(request), body.url, secret=body.secret, description=body.description,
        events=body.events, agent_id=body.agentId)
    out: dict[str, Any] = {"webhook": webhook_view(hook)}
    if generated:
        out["secret"] = generated
    return out


@routes.get("/api/webhooks", scope="admin", response_model=WebhookList, summary="The caller's webhooks")
async def list_webhooks(request: Request) -> dict[str, Any]:
    hooks = await automation_of(request).webhooks.list(principal_of(request))
    return {"webhooks": [webhook_view(h) for h in hooks]}


@routes.get("/api/webhooks/{webhookId}", scope="admin", response_model=WebhookOne, errors=(404,),
            summary="One webhook")
async def get_webhook(request: Request, webhookId: str) -> dict[str, Any]:
    return {"webhook": webhook_view(await automation_of(request).webhooks.get(principal_of(request), webhookId))}


@routes.delete("/api/webhooks/{webhookId}", scope="admin", response_model=WebhookRemoved, errors=(404,),
               summary="Remove a webhook (and its undelivered events)")
async def delete_webhook(request: Request, webhookId: str) -> dict[str, Any]:
    await automation_of(request).webhooks.delete(principal_of(request), webhookId)
    return {"status": "removed", "webhookId": webhookId}


@routes.post("/api/webhooks/{webhookId}/test", scope="admin", response_model=WebhookTested, errors=(404,),
             summary="Send a signed test event now")
async def test_webhook(request: Request, webhookId: str) -> dict[str, Any]:
    result = await automation_of(request).webhooks.test(principal_of(request), webhookId)
    return {"test": "completed", "result": result}


@routes.get("/api/webhooks/{webhookId}/deliveries", scope="admin", response_model=DeliveryList, errors=(404,),
            summary="The webhook's deliveries, newest first (status=dead: the dead letters)")
async def list_deliveries(request: Request, webhookId: str,
                          status: Annotated[Literal["pending", "delivered", "dead"] | None, Query()] = None,
                          limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    rows = await automation_of(request).webhooks.deliveries(principal_of(request), webhookId, status, limit)
    return {"deliveries": rows}


@routes.post("/api/webhooks/{webhookId}/deliveries/{deliveryId}/retry", scope="admin", response_model=Redriven,
             errors=(404,), summary="Send a dead delivery again")
async def retry_delivery(request: Request, webhookId: str, deliveryId: str) -> dict[str, Any]:
    await automation_of(request).webhooks.redrive(principal_of(request), webhookId, deliveryId)
    return {"requeued": True, "deliveryId": deliveryId}
