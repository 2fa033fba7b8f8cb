"""Request limits with the `limits` library: per key, per client address, failed
authentications per address (brute force), and concurrent runs per key.

Counters live in memory by default (one process, `local_windows.py`), or in Redis when
SWITCHYARD_REDIS_URL is set (shared by every worker, through `limits`' Redis storage). Both
use the sliding window counter: two counters per key (this window and the last, the last
weighted by how much of it still overlaps the moving window), so memory and time per request
stay constant whatever the limit. The moving-window strategy it replaced keeps one timestamp
per request in the window and inserts at the front of a list: with a generous limit
(100,000/minute) that cost grew to tens of microseconds per request.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from typing import Any

from limits import RateLimitItem, WindowStats, parse_many
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchyard.server.deps import PRINCIPAL_SCOPE_KEY
from switchyard.server.security.audit import client_address
from switchyard.server.security.local_windows import LocalWindows
from switchyard.server.security.responses import send_json
from switchyard.server.security.scopes import is_public, starts_run
from switchyard.server.security.settings import SecuritySettings

log = logging.getLogger("switchyard.security")

API_KEY_SCOPE_KEY = "switchyard.api_key"   # the KeyRecord of a store key, set by auth


def _redis_uri(url: str) -> str:
    for scheme in ("redis://", "rediss://", "redis+unix://"):
        if url.startswith(scheme):
            return "async+" + url
    return url


def _describe(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return f"{item.amount} per {item.multiples} {unit}" + ("s" if item.multiples != 1 else "")


class Limiter:
    """The counters: this process's own, or Redis storage created lazily on the event loop."""

    def __init__(self, settings: SecuritySettings) -> None:
        self.settings = settings
        self.namespace = settings.rate_limit_namespace
        self.key_items = parse_many(settings.rate_limit) if settings.rate_limit else []
        self.address_items = parse_many(settings.address_rate_limit) if settings.address_rate_limit else []
        self.failure_items = parse_many(settings.auth_failure_limit) if settings.auth_failure_limit else []
        self._storage: Storage | None = None
        self._strategy: SlidingWindowCounterRateLimiter | None = None
        self._local = None if settings.redis_url else LocalWindows()
        self._per_key_cache: dict[str, list[RateLimitItem]] = {}

    @property
    def strategy(self) -> SlidingWindowCounterRateLimiter:
        """The shared (Redis) counters."""
        if self._strategy is None:
            self._storage = RedisStorage(_redis_uri(self.settings.redis_url), implementation="redispy",
                                         key_prefix=self.namespace)
            self._strategy = SlidingWindowCounterRateLimiter(self._storage)
        return self._strategy

    def items_for_key(self, own_limit: str | None) -> list[RateLimitItem]:
        if not own_limit:
            return self.key_items
        items = self._per_key_cache.get(own_limit)
        if items is None:
            try:
                items = parse_many(own_limit)
            except ValueError:
                items = self.key_items
            self._per_key_cache[own_limit] = items
        return items

    async def hit(self, items: list[RateLimitItem], kind: str, ident: str) -> tuple[bool, list[tuple[RateLimitItem, Any]]]:
        """Count one request against every item; (allowed, [(item, window stats)])."""
        allowed = True
        stats = []
        local = self._local
        for item in items:
            if local is not None:
                ok, window = local.hit(item, _local_key(item, kind, ident))
            else:
                ok = await self.strategy.hit(item, self.namespace, kind, ident)
                window = await self.strategy.get_window_stats(item, self.namespace, kind, ident)
            allowed = allowed and ok
            stats.append((item, window))
        return allowed, stats

    async def _peek(self, item: RateLimitItem, kind: str, ident: str) -> WindowStats:
        if self._local is not None:
            return self._local.peek(item, _local_key(item, kind, ident))
        return await self.strategy.get_window_stats(item, self.namespace, kind, ident)

    # --- failed authentications ---------------------------------------------------------

    async def auth_blocked(self, address: str) -> float | None:
        """Seconds until this address may try again, or None when it is not blocked."""
        for item in self.failure_items:
            stats = await self._peek(item, "authfail", address)
            if stats.remaining <= 0:
                return max(1.0, stats.reset_time - time.time())
        return None

    async def auth_failed(self, address: str) -> bool:
        """Count a failure; True when this failure used up the address's allowance."""
        _, stats = await self.hit(self.failure_items, "authfail", address)
        return any(window.remaining <= 0 for _, window in stats)

    async def close(self) -> None:
        storage = self._storage
        if storage is not None and hasattr(storage, "storage"):
            close = getattr(storage.storage, "aclose", None) or getattr(storage.storage, "close", None)
            try:
                if close is not None:
                    result = close()
                    if hasattr(result, "__await__"):
                        await result
            except Exception:  # noqa: BLE001, S110 - best effort at shutdown
                pass


def _local_key(item: RateLimitItem, kind: str, ident: str) -> tuple[str, str, int, int]:
    """One counter per limit (amount and window) per identity, as `limits` keys them."""
    return kind, ident, item.amount, item.get_expiry()


def _headers(stats: list[tuple[RateLimitItem, Any]]) -> list[tuple[str, str]]:
    """RateLimit-* for the tightest window (fewest remaining)."""
    if not stats:
        return []
    item, window = min(stats, key=lambda s: (s[1].remaining, -s[1].reset_time))
    reset = max(0, math.ceil(window.reset_time - time.time()))
    return [("ratelimit-limit", str(item.amount)), ("ratelimit-remaining", str(max(0, window.remaining))),
            ("ratelimit-reset", str(reset)),
            ("ratelimit-policy", f"{item.amount};w={item.get_expiry()}")]


class RateLimitMiddleware:
    """Per key and per address limits on protected routes; 429 with Retry-After over them."""

    def __init__(self, app: ASGIApp, *, limiter: Limiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter = self.limiter
        if (scope["type"] != "http" or is_public(scope["method"], scope["path"])
                or (not limiter.key_items and not limiter.address_items and API_KEY_SCOPE_KEY not in scope)):
            await self.app(scope, receive, send)
            return
        principal = scope.get(PRINCIPAL_SCOPE_KEY)
        stats: list[tuple[RateLimitItem, Any]] = []
        denied: str | None = None
        if principal is not None and principal.name:
            record = scope.get(API_KEY_SCOPE_KEY)
            items = limiter.items_for_key(record.rate_limit if record is not None else None)
            if items:
                ok, key_stats = await limiter.hit(items, "key", principal.name)
                stats += key_stats
                if not ok:
                    denied = "key"
        address = client_address(scope) or "unknown"
        if limiter.address_items and denied is None:
            ok, addr_stats = await limiter.hit(limiter.address_items, "addr", address)
            stats += addr_stats
            if not ok:
                denied = "address"
        headers = _headers(stats)
        if denied is not None:
            over = [(i, w) for i, w in stats if w.remaining <= 0] or stats
            retry = max(1, math.ceil(max(w.reset_time for _, w in over) - time.time()))
            log.warning("rate limit exceeded per %s: key=%s client=%s path=%s", denied,
                        principal.name if principal else None, address, scope["path"])
            who = "this API key" if denied == "key" else "this client address"
            await send_json(send, 429, {
                "error": "Too Many Requests", "code": "rate_limited",
                "message": f"Rate limit exceeded for {who} ({_describe(over[0][0])}). Retry after {retry} s."},
                headers=[("retry-after", str(retry))] + headers)
            return
        raw = [(k.encode(), v.encode()) for k, v in headers]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + raw
            await send(message)

        await self.app(scope, receive, with_headers)


class RunCapMiddleware:
    """At most N concurrent runs per key (per process). A run is counted from the request
    until its response ends (an SSE stream until it closes)."""

    def __init__(self, app: ASGIApp, *, cap: int) -> None:
        self.app = app
        self.cap = cap
        self.running: dict[str, int] = defaultdict(int)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.cap <= 0 or not starts_run(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        principal = scope.get(PRINCIPAL_SCOPE_KEY)
        who = (principal.name if principal is not None else None) or "anonymous"
        if self.running[who] >= self.cap:
            log.warning("concurrent run cap reached: key=%s cap=%d path=%s", who, self.cap, scope["path"])
            await send_json(send, 429, {
                "error": "Too Many Requests", "code": "too_many_runs",
                "message": (f"This API key already has {self.cap} runs in progress, the limit "
                            "(SWITCHYARD_MAX_CONCURRENT_RUNS_PER_KEY). Wait for one to finish.")},
                headers=[("retry-after", "1")])
            return
        self.running[who] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.running[who] -= 1
            if self.running[who] <= 0:
                del self.running[who]


async def charge_extra(scope: Scope, count: int) -> int | None:
    """Count `count` more requests against the caller's limits, as the middleware counted
    the request itself: one request that carries several calls (a JSON-RPC batch) costs what
    those calls would cost one by one. Seconds to wait when that went over a limit, else None."""
    security = getattr(scope["app"].state, "security", None)
    if security is None or count <= 0:
        return None
    limiter: Limiter = security.limiter
    principal = scope.get(PRINCIPAL_SCOPE_KEY)
    charges: list[tuple[list[RateLimitItem], str, str]] = []
    if principal is not None and principal.name:
        record = scope.get(API_KEY_SCOPE_KEY)
        items = limiter.items_for_key(record.rate_limit if record is not None else None)
        if items:
            charges.append((items, "key", principal.name))
    if limiter.address_items:
        charges.append((limiter.address_items, "addr", client_address(scope) or "unknown"))
    for items, kind, ident in charges:
        for _ in range(count):
            ok, stats = await limiter.hit(items, kind, ident)
            if not ok:
                over = [w for _, w in stats if w.remaining <= 0] or [w for _, w in stats]
                return max(1, math.ceil(max(w.reset_time for w in over) - time.time()))
    return None
