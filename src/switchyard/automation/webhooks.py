"""WebhookService: what the webhook routes call, and the outbox's lifecycle.

A webhook belongs to the key that made it (`owner`, the Principal's name): another named key
sees it as missing. The root key and the no-auth caller see every webhook. Its secret signs
the deliveries and is never returned, except once: when the server generated it (no
`secret` in the request), the creation response carries it so the receiver can be set up.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import uuid
from typing import Any, Callable

from switchyard.automation import webhook_store as ws
from switchyard.automation.outbox import (DEFAULT_EVENTS, OutboxDeliverer, OutboxRecorder, WebhookDirectory,
                                          event_body)
from switchyard.automation.settings import AutomationSettings
from switchyard.automation.urls import Resolver, UrlPolicy
from switchyard.errors import NotFoundError, RequestError
from switchyard.events import EVENT_TYPES, Event
from switchyard.ids import now_ms
from switchyard.principal import Principal
from switchyard.runtime.supervisor import Supervisor
from switchyard.store.database import Database

log = logging.getLogger("switchyard.webhooks")

REFRESH_SECONDS = 5.0
MAX_SECRET_LENGTH = 200


def _iso(ms: int) -> str:
    from datetime import datetime, timezone
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def webhook_view(hook: ws.Webhook) -> dict[str, Any]:
    """The reference's webhook object (never the secret), with our filter fields."""
    out: dict[str, Any] = {"id": hook.id, "url": hook.url}
    if hook.description is not None:
        out["description"] = hook.description
    out["createdAt"] = _iso(hook.created_at)
    out["events"] = list(hook.events) if hook.events is not None else sorted(DEFAULT_EVENTS)
    if hook.agent_id is not None:
        out["agentId"] = hook.agent_id
    return out


def delivery_view(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "eventType": row["event_type"], "status": row["status"],
            "attempts": row["attempts"], "lastStatusCode": row["last_status"], "lastError": row["last_error"],
            "createdAt": row["created_at"], "nextAttemptAt": row["next_attempt_at"] if row["status"] == ws.PENDING else None,
            "finishedAt": row["finished_at"]}


def _check_events(events: list[str] | None) -> tuple[str, ...] | None:
    if events is None:
        return None
    for i, name in enumerate(events):
        if name != "*" and name not in EVENT_TYPES:
            raise RequestError(f"events[{i}]: unknown event {name!r} (known: {', '.join(sorted(EVENT_TYPES))}, or *)",
                               details={"field": f"events[{i}]"})
    return tuple(dict.fromkeys(events))


class WebhookService:
    def __init__(self, db: Database, settings: AutomationSettings, encode: Callable[[Event], dict[str, Any]],
                 *, resolver: Resolver | None = None, known_agents: tuple[str, ...] = ()) -> None:
        self.db = db
        self.settings = settings
        self.policy = UrlPolicy(settings.allow_networks, settings.require_https)
        self.known_agents = known_agents
        self.directory = WebhookDirectory(db)
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.deliverer = OutboxDeliverer(db, settings, holder=holder, resolver=resolver)
        self.recorder = OutboxRecorder(db, self.directory, encode, settings, on_recorded=self.deliverer.wake)

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self, supervisor: Supervisor) -> None:
        await self.directory.refresh()
        supervisor.keep_running(self.recorder.run, name="webhook-recorder")
        supervisor.keep_running(self.deliverer.run, name="webhook-deliverer")
        supervisor.every(REFRESH_SECONDS, self.directory.refresh, name="webhook-directory")

    async def stop(self) -> None:
        """After the agents stopped: store what is left to record, close the client."""
        try:
            await self.recorder.flush()
        except Exception:  # noqa: BLE001
            log.exception("could not record the last webhook events")
        await self.deliverer.close()

    # --- the API ----------------------------------------------------------------------------

    @staticmethod
    def _visible(hook: ws.Webhook, principal: Principal) -> bool:
        return principal.is_root or principal.name is None or hook.owner == principal.name

    async def create(self, principal: Principal, url: str, *, secret: str | None = None,
                     description: str | None = None, events: list[str] | None = None,
                     agent_id: str | None = None) -> tuple[ws.Webhook, str | None]:
        """The new webhook, and its secret when the server generated it (shown this once)."""
        self.policy.check_url(url)
        if agent_id is not None and self.known_agents and agent_id not in self.known_agents:
            raise RequestError(f"agentId: no hosted agent {agent_id!r}", details={"field": "agentId"})
        if secret is not None and not (1 <= len(secret) <= MAX_SECRET_LENGTH):
            raise RequestError(f"secret: 1 to {MAX_SECRET_LENGTH} characters", details={"field": "secret"})
        generated = None if secret else f"whsec_{secrets.token_urlsafe(32)}"
        created = now_ms()
        hook = ws.Webhook(f"wh_{created}_{uuid.uuid4().hex[:9]}", principal.name, url.strip(),
                          secret or generated or "", description, _check_events(events), agent_id, created)
        await self.db.write(ws.insert_webhook, hook)
        await self.directory.refresh()
        return hook, generated

    async def list(self, principal: Principal) -> list[ws.Webhook]:
        return [h for h in await self.db.read(ws.all_webhooks) if self._visible(h, principal)]

    async def get(self, principal: Principal, webhook_id: str) -> ws.Webhook:
        hook = await self.db.read(ws.get_webhook, webhook_id)
        if hook is None or not self._visible(hook, principal):
            raise NotFoundError(f"Webhook not found: {webhook_id}", code="webhook_not_found",
                                details={"webhookId": webhook_id})
        return hook

    async def delete(self, principal: Principal, webhook_id: str) -> None:
        await self.get(principal, webhook_id)
        await self.db.write(ws.delete_webhook, webhook_id)
        await self.directory.refresh()

    async def test(self, principal: Principal, webhook_id: str) -> dict[str, Any]:
        """One signed test event, sent now (not through the outbox), as the reference does."""
        hook = await self.get(principal, webhook_id)
        event_id = f"evt_test_{now_ms()}"
        body = event_body(event_id, "tools:available-updated", {"tools": ["test-tool"], "source": "mcp"}, None)
        result = await self.deliverer.attempt(hook, f"dlv_test_{uuid.uuid4().hex}", "tools:available-updated",
                                              body, 1)
        return result.to_result()

    async def deliveries(self, principal: Principal, webhook_id: str, status: str | None,
                         limit: int) -> list[dict[str, Any]]:
        await self.get(principal, webhook_id)
        rows = await self.db.read(ws.list_deliveries, webhook_id, status, limit)
        return [delivery_view(r) for r in rows]

    async def redrive(self, principal: Principal, webhook_id: str, delivery_id: str) -> None:
        await self.get(principal, webhook_id)
        if not await self.db.write(ws.redrive, webhook_id, delivery_id, now_ms()):
            raise NotFoundError(f"No dead delivery {delivery_id} for webhook {webhook_id}",
                                code="delivery_not_found", details={"deliveryId": delivery_id})
        self.deliverer.wake()

