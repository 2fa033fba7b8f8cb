"""The webhook outbox: events become rows when they happen, rows become POSTs.

`OutboxRecorder.observe` is called by each agent's EventPublisher for every event, in order
(runtime/publisher.py): it picks the webhooks that want the event and queues one row each; a
writer task stores them at once (batched, one transaction). A row is stored before any
delivery of it starts, so a restart loses no recorded event: the next process delivers it.

`OutboxDeliverer` runs where it holds the `webhook-delivery` lease in the store (one replica
at a time). It takes the oldest undelivered row of each webhook, so that each webhook receives
its events in order, one at a time; webhooks do not wait for each other. A row that fails
with a 5xx, 408, 429, a timeout or a connection error is tried again after an exponential
backoff with jitter (base * 2^(attempt-1), capped, times a random factor in [0.5, 1]);
after `max_attempts`, or at once for any other failure (a 4xx, a redirect, a refused
address), it is dead: listed by GET /api/webhooks/{id}/deliveries?status=dead, and sent
again by POST .../deliveries/{deliveryId}/retry.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from switchyard.automation import webhook_store as ws
from switchyard.automation.delivery import Attempt, Outbound, post_signed
from switchyard.automation.leases import acquire, release
from switchyard.automation.settings import AutomationSettings
from switchyard.automation.urls import Resolver, UrlPolicy
from switchyard.events import Event
from switchyard.ids import now_ms
from switchyard.store.database import Database

log = logging.getLogger("switchyard.webhooks")

API_VERSION = "2025-07-03"
LEASE = "webhook-delivery"
POLL_SECONDS = 1.0

# What a webhook receives when it names no events (`events: ["*"]` receives every event,
# streaming chunks included).
DEFAULT_EVENTS = frozenset({"run:complete", "llm:response", "llm:error", "approval:request",
                            "approval:response", "llm:tool-call", "llm:tool-result",
                            "message:queued", "message:dequeued", "session:title-updated"})


def new_delivery_id() -> str:
    return f"dlv_{uuid.uuid4().hex}"


def event_body(event_id: str, event_type: str, data: dict[str, Any], agent_id: str | None) -> bytes:
    payload: dict[str, Any] = {"id": event_id, "type": event_type, "data": data,
                               "created": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
                               "apiVersion": API_VERSION}
    if agent_id is not None:
        payload["agentId"] = agent_id
    return json.dumps(payload, separators=(",", ":")).encode()


class WebhookDirectory:
    """The registered webhooks, held in memory so that picking them for an event costs no
    query; reloaded after every change here and every few seconds (changes on a replica)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.hooks: list[ws.Webhook] = []

    async def refresh(self) -> None:
        self.hooks = await self.db.read(ws.all_webhooks)

    def wanting(self, agent_id: str, event_name: str) -> list[ws.Webhook]:
        return [h for h in self.hooks if h.wants(agent_id, event_name, DEFAULT_EVENTS)]


class OutboxRecorder:
    def __init__(self, db: Database, directory: WebhookDirectory, encode: Callable[[Event], dict[str, Any]],
                 settings: AutomationSettings, on_recorded: Callable[[], None] = lambda: None) -> None:
        self.db = db
        self.directory = directory
        self.encode = encode
        self.settings = settings
        self.on_recorded = on_recorded
        self._pending: list[ws.Outgoing] = []
        self._wake = asyncio.Event()

    def observer_for(self, agent_id: str) -> Callable[[Event], None]:
        return lambda event: self.observe(agent_id, event)

    def observe(self, agent_id: str, event: Event) -> None:
        hooks = self.directory.wanting(agent_id, event.name)
        if not hooks:
            return
        event_id = f"evt_{uuid.uuid4().hex}"
        body = event_body(event_id, event.name, self.encode(event), agent_id).decode()
        created = now_ms()
        self._pending.extend(ws.Outgoing(new_delivery_id(), h.id, event.name, body, created) for h in hooks)
        self._wake.set()

    async def flush(self) -> None:
        while self._pending:
            rows, self._pending = self._pending, []
            try:
                dropped = await self.db.write(ws.record, rows, self.settings.queue_limit)
            except Exception:
                self._pending[:0] = rows   # keep them for the next try, in order
                raise
            for row in dropped:
                log.warning("webhook %s: %d events wait already (SWITCHYARD_WEBHOOK_QUEUE_LIMIT): "
                            "%s event dropped", row.webhook_id, self.settings.queue_limit, row.event_type)
            self.on_recorded()

    async def run(self) -> None:
        """The writer: store what was observed, as soon as it was."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()


class OutboxDeliverer:
    def __init__(self, db: Database, settings: AutomationSettings, *, holder: str,
                 resolver: Resolver | None = None, client: Any = None) -> None:
        self.db = db
        self.settings = settings
        self.policy = UrlPolicy(settings.allow_networks, settings.require_https)
        self.holder = holder
        self.resolver = resolver
        self._client = client
        self._wake = asyncio.Event()
        self._inflight: dict[str, asyncio.Task[None]] = {}

    def wake(self) -> None:
        self._wake.set()

    def use_client(self, client: Any) -> None:
        """Deliver through `client` (an httpx.AsyncClient; e.g. one trusting a private CA)."""
        self._client = client

    def client(self) -> Any:
        if self._client is None:
            import httpx
            self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        return self._client

    async def close(self) -> None:
        for task in self._inflight.values():
            task.cancel()
        if self._inflight:
            await asyncio.wait(list(self._inflight.values()), timeout=5)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        try:   # the next process (or another replica) takes over at once, not after the TTL
            await self.db.write(release, LEASE, self.holder)
        except Exception:  # noqa: BLE001 - it expires anyway
            log.warning("could not release the %s lease", LEASE)

    def backoff(self, attempts: int) -> float:
        delay = min(self.settings.retry_base * (2 ** max(attempts - 1, 0)), self.settings.retry_max)
        return delay * random.uniform(0.5, 1.0)

    async def run(self) -> None:
        ttl = int(max(30.0, self.settings.timeout * 3) * 1000)
        while True:
            self._wake.clear()
            now = now_ms()
            wait = POLL_SECONDS
            if await acquire(self.db, LEASE, self.holder, ttl, now):
                for row in await self.db.read(ws.heads):
                    hook = row["webhook_id"]
                    if hook in self._inflight:
                        continue
                    due_in = (row["next_attempt_at"] - now) / 1000
                    if due_in <= 0:
                        task = asyncio.create_task(self._deliver(row), name=f"webhook-delivery:{hook}")
                        self._inflight[hook] = task
                        task.add_done_callback(lambda t, h=hook: self._done(h, t))
                    else:
                        wait = min(wait, due_in)
            try:
                await asyncio.wait_for(self._wake.wait(), max(wait, 0.01))
            except asyncio.TimeoutError:
                pass

    def _done(self, hook: str, task: asyncio.Task[None]) -> None:
        self._inflight.pop(hook, None)
        if not task.cancelled() and task.exception() is not None:
            # E.g. the database is unreachable: the next poll tries again (no busy loop).
            log.error("webhook %s: delivery failed: %r", hook, task.exception())
            return
        self._wake.set()

    async def attempt(self, hook: ws.Webhook, delivery_id: str, event_type: str, body: bytes,
                      attempt: int) -> Attempt:
        event_id = json.loads(body).get("id", "") if body else ""
        out = Outbound(hook.id, hook.url, hook.secret, delivery_id, event_id, event_type, body, attempt)
        return await post_signed(self.client(), self.policy, out, timeout=self.settings.timeout,
                                 resolver=self.resolver)

    async def _deliver(self, row: dict[str, Any]) -> None:
        hook = await self.db.read(ws.get_webhook, row["webhook_id"])
        if hook is None:   # deleted meanwhile (its rows go with it)
            return
        attempts = row["attempts"] + 1
        result = await self.attempt(hook, row["id"], row["event_type"], row["body"].encode(), attempts)
        now = now_ms()
        if result.success:
            status, next_at = ws.DELIVERED, None
        elif result.retryable and attempts < self.settings.max_attempts:
            status, next_at = ws.PENDING, now + int(self.backoff(attempts) * 1000)
        else:
            status, next_at = ws.DEAD, None
            log.warning("webhook %s: delivery %s of %s is dead after %d attempt(s): %s", hook.id, row["id"],
                        row["event_type"], attempts, result.error)
        await self.db.write(ws.finish, row["seq"], status, attempts, now, result.status_code, result.error,
                            next_at)
