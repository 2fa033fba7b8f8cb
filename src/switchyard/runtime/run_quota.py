"""Runs in progress per key, across every agent of a host: the per-key run cap (issue 17).

A run counts from the moment it is asked for until its turn ends, whoever still listens:
a turn queued behind a busy session, a fire-and-forget `POST /api/message` after its 202, a
stream whose client went away, each entry of a JSON-RPC batch. (The server's RunCapMiddleware
counts open requests; a request ends long before its run can.) Per process; with replicas
(`shared`, bus/shared.py) the count is in Redis, so the cap holds across all of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from switchyard.errors import LimitError

log = logging.getLogger("switchyard.agent")


class RunSlot:
    """One run's place in its key's quota; released once (later calls do nothing)."""

    __slots__ = ("_quota", "owner", "member")

    def __init__(self, quota: "RunQuota | None", owner: str | None, member: str | None = None) -> None:
        self._quota = quota
        self.owner = owner
        self.member = member      # its place in the shared quota, with replicas

    def release(self) -> None:
        quota, self._quota = self._quota, None
        if quota is not None:
            quota._release(self.owner, self.member)


class RunQuota:
    """At most `cap` runs in progress per key (0: no cap). Unnamed callers (no
    authentication) are not capped."""

    def __init__(self, cap: int = 0) -> None:
        self.cap = cap
        self._active: dict[str, int] = defaultdict(int)
        self.shared: Any = None     # bus.shared.SharedState: the count is kept in Redis
        self._releasing: set[asyncio.Task[None]] = set()

    def active(self, owner: str | None) -> int:
        return self._active.get(owner, 0) if owner is not None else 0

    def acquire(self, owner: str | None) -> RunSlot:
        """A slot for a new run of `owner` in this process; LimitError 429 `too_many_runs`
        over the cap."""
        if owner is None:
            return RunSlot(None, None)
        if self.cap > 0 and self._active[owner] >= self.cap:
            raise self._over_cap(owner)
        self._active[owner] += 1
        return RunSlot(self, owner)

    async def take(self, owner: str | None) -> RunSlot:
        """A slot as `acquire` gives, counted across replicas when they share Redis."""
        if owner is None or self.shared is None or self.cap <= 0:
            return self.acquire(owner)
        member = await self.shared.take_slot(owner, self.cap)
        if member is None:
            raise self._over_cap(owner)
        self._active[owner] += 1
        return RunSlot(self, owner, member)

    def _over_cap(self, owner: str) -> LimitError:
        log.warning("run cap reached: key=%s cap=%d (running and queued runs)", owner, self.cap)
        return LimitError(f"This API key already has {self.cap} runs in progress or queued, the limit "
                          "(SWITCHYARD_MAX_CONCURRENT_RUNS_PER_KEY). Wait for one to finish.",
                          code="too_many_runs", status=429, retry_after=1, details={"limit": self.cap})

    def _release(self, owner: str | None, member: str | None = None) -> None:
        if owner is None:
            return
        if member is not None and self.shared is not None:
            task = asyncio.ensure_future(self.shared.release_slot(owner, member))
            self._releasing.add(task)   # held until done; a failure leaves the slot to expire
            task.add_done_callback(self._released)
        left = self._active.get(owner, 0) - 1
        if left > 0:
            self._active[owner] = left
        else:
            self._active.pop(owner, None)

    def _released(self, task: "asyncio.Future[None]") -> None:
        self._releasing.discard(task)  # type: ignore[arg-type]
        if not task.cancelled() and task.exception() is not None:
            log.warning("could not release a run slot in Redis (it expires by itself): %s", task.exception())
