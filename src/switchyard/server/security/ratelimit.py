"""Request limits with the `limits` library: per key, per client address, failed
authentications per address (brute force), and concurrent runs per key.

Counters live in memory by default (one process), or in Redis when SWITCHYARD_REDIS_URL is
set (shared by every worker). The moving-window strategy is exact: `5/second` means at most
five requests in any one-second span.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from typing import Any

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchyard.server.deps import PRINCIPAL_SCOPE_KEY
from switchyard.server.security.audit import client_address
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
    """The shared counters. Storage is created lazily, on the server's event loop."""

    def __init__(self, settings: SecuritySettings) -> None:
        self.settings = settings
        self.namespace = settings.rate_limit_namespace
        self.key_items = parse_many(settings.rate_limit) if settings.rate_limit else []
        self.address_items = parse_many(settings.address_rate_limit) if settings.address_rate_limit else []
        self.failure_items = parse_many(settings.auth_failure_limit) if settings.auth_failure_limit else []
        self._storage: Storage | None = None
        self._strategy: MovingWindowRateLimiter | None = None
        self._per_key_cache: dict[str, list[RateLimitItem]] = {}
        # In-memory counters are this process's own: an address this Limiter never counted a
        # failure for (within the longest window) cannot be blocked, so skip the lookup.
        self._local_failures = not settings.redis_url and all(i.amount > 0 for i in self.failure_items)
        self._failure_window = max((i.get_expiry() for i in self.failure_items), default=0) + 1
        self._failed_at: dict[str, float] = {}

    @property
    def strategy(self) -> MovingWindowRateLimiter:
        if self._strategy is None:
            if self.settings.redis_url:
                self._storage = RedisStorage(_redis_uri(self.settings.redis_url), implementation="redispy",
                                             key_prefix=self.namespace)
            else:
                self._storage = MemoryStorage()
            self._strategy = MovingWindowRateLimiter(self._storage)
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
        for item in items:
            if not await self.strategy.hit(item, self.namespace, kind, ident):
                allowed = False
            stats.append((item, await self.strategy.get_window_stats(item, self.namespace, kind, ident)))
        return allowed, stats

    # --- failed authentications ---------------------------------------------------------

    async def auth_blocked(self, address: str) -> float | None:
        """Seconds until this address may try again, or None when it is not blocked."""
        if self._local_failures:
            last = self._failed_at.get(address)
            if last is None:
                return None
            if time.time() - last > self._failure_window:
                del self._failed_at[address]
                return None
        for item in self.failure_items:
            stats = await self.strategy.get_window_stats(item, self.namespace, "authfail", address)
            if stats.remaining <= 0:
                return max(1.0, stats.reset_time - time.time())
        return None

    async def auth_failed(self, address: str) -> bool:
        """Count a failure; True when this failure used up the address's allowance."""
        exhausted = False
        if self._local_failures:
            now = time.time()
            if len(self._failed_at) >= 10_000:
                self._failed_at = {a: t for a, t in self._failed_at.items() if now - t <= self._failure_window}
            self._failed_at[address] = now
        for item in self.failure_items:
            await self.strategy.hit(item, self.namespace, "authfail", address)
            stats = await self.strategy.get_window_stats(item, self.namespace, "authfail", address)
            exhausted = exhausted or stats.remaining <= 0
        return exhausted

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
