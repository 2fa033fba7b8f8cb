"""Runs in progress per key, across every agent of a host: the per-key run cap (issue 17).

A run counts from the moment it is asked for until its turn ends, whoever still listens:
a turn queued behind a busy session, a fire-and-forget `POST /api/message` after its 202, a
stream whose client went away, each entry of a JSON-RPC batch. (The server's RunCapMiddleware
counts open requests; a request ends long before its run can.) Per process, like the rest of
the in-memory limits.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from switchyard.errors import LimitError

log = logging.getLogger("switchyard.agent")


class RunSlot:
    """One run's place in its key's quota; released once (later calls do nothing)."""

    __slots__ = ("_quota", "owner")

    def __init__(self, quota: "RunQuota | None", owner: str | None) -> None:
        self._quota = quota
        self.owner = owner

    def release(self) -> None:
        quota, self._quota = self._quota, None
        if quota is not None:
            quota._release(self.owner)


class RunQuota:
    """At most `cap` runs in progress per key (0: no cap). Unnamed callers (no
    authentication) are not capped."""

    def __init__(self, cap: int = 0) -> None:
        self.cap = cap
        self._active: dict[str, int] = defaultdict(int)

    def active(self, owner: str | None) -> int:
        return self._active.get(owner, 0) if owner is not None else 0

    def acquire(self, owner: str | None) -> RunSlot:
        """A slot for a new run of `owner`; LimitError 429 `too_many_runs` over the cap."""
        if owner is None:
            return RunSlot(None, None)
        if self.cap > 0 and self._active[owner] >= self.cap:
            log.warning("run cap reached: key=%s cap=%d (running and queued runs)", owner, self.cap)
            raise LimitError(f"This API key already has {self.cap} runs in progress or queued, the limit "
                             "(SWITCHYARD_MAX_CONCURRENT_RUNS_PER_KEY). Wait for one to finish.",
                             code="too_many_runs", status=429, retry_after=1,
                             details={"limit": self.cap})
        self._active[owner] += 1
        return RunSlot(self, owner)

    def _release(self, owner: str | None) -> None:
        if owner is None:
            return
        left = self._active.get(owner, 0) - 1
        if left > 0:
            self._active[owner] = left
        else:
            self._active.pop(owner, None)
