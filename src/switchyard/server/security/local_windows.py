"""Sliding window counters kept in this process: the rate limiter's in-memory backend.

The algorithm is the `limits` library's sliding window counter (the one the Redis backend
uses, through `limits`): per key a counter for the current fixed window and one for the
previous window; the previous one counts in proportion to how much of it still overlaps the
moving window that ends now. Limits, keys and window stats are `limits` types.

Why not `limits`' own MemoryStorage: its async flavour schedules a background task to expire
keys on every counter update, and the strategy makes two storage round trips per limit per
request (hit, then window stats). Through HTTP that made a rate-limited authenticated GET
about 40% slower than the same GET with limits off (bench/http_bench.py). Here a hit is a
few dict operations with no await in between (so it is atomic on the event loop), and the
stats come from the same read.
"""

from __future__ import annotations

import math
import time
from typing import Hashable

from limits import RateLimitItem, WindowStats

# Sweep stale counters once the table holds this many keys (addresses are unbounded).
SWEEP_AT = 50_000


class LocalWindows:
    def __init__(self, clock=time.time) -> None:  # noqa: ANN001 - a zero-argument callable
        self._clock = clock
        # key -> [window number, count in that window, count in the window before it, expiry]
        self._counters: dict[Hashable, list[int]] = {}
        self._sweep_at = SWEEP_AT

    def hit(self, item: RateLimitItem, key: Hashable, cost: int = 1) -> tuple[bool, WindowStats]:
        """Count `cost` against the limit if it fits; (allowed, stats after the attempt)."""
        now = self._clock()
        expiry = item.get_expiry()
        counter = self._current(key, expiry, now)
        weighted = self._weighted(counter, expiry, now)
        allowed = cost <= item.amount and math.floor(weighted) + cost <= item.amount
        if allowed:
            counter[1] += cost
            weighted += cost
        return allowed, self._stats(item, counter, weighted, expiry, now)

    def peek(self, item: RateLimitItem, key: Hashable) -> WindowStats:
        """The stats without counting anything."""
        now = self._clock()
        expiry = item.get_expiry()
        counter = self._current(key, expiry, now, create=False)
        if counter is None:
            return WindowStats(now, item.amount)
        return self._stats(item, counter, self._weighted(counter, expiry, now), expiry, now)

    def __len__(self) -> int:
        return len(self._counters)

    # --- internals -----------------------------------------------------------------------

    def _current(self, key: Hashable, expiry: int, now: float, create: bool = True) -> list[int] | None:
        """The key's counter, rolled forward to the window `now` falls in."""
        window = int(now // expiry)
        counter = self._counters.get(key)
        if counter is None:
            if not create:
                return None
            if len(self._counters) >= self._sweep_at:
                self._sweep(now)
            counter = self._counters[key] = [window, 0, 0, expiry]
        elif counter[0] != window:
            # One window on: the current count becomes the previous one; further: both expired.
            counter[2] = counter[1] if counter[0] == window - 1 else 0
            counter[0], counter[1] = window, 0
        return counter

    @staticmethod
    def _weighted(counter: list[int], expiry: int, now: float) -> float:
        elapsed = now % expiry
        return counter[2] * (expiry - elapsed) / expiry + counter[1]

    @staticmethod
    def _stats(item: RateLimitItem, counter: list[int], weighted: float, expiry: int,
               now: float) -> WindowStats:
        remaining = max(0, item.amount - math.floor(weighted))
        current_count, previous_count = counter[1], counter[2]
        if not (current_count or previous_count):
            return WindowStats(now, remaining)
        # When the next unit frees up: the previous window's weight drops by one request
        # every expiry/previous_count seconds; the current window's count ends with it.
        left_in_window = expiry - now % expiry
        previous_reset = left_in_window % (expiry / previous_count) if previous_count else math.inf
        current_reset = left_in_window if current_count else math.inf
        return WindowStats(now + min(previous_reset, current_reset), remaining)

    def _sweep(self, now: float) -> None:
        """Drop counters that no longer count: two windows (of their own length) old."""
        stale = [key for key, counter in self._counters.items() if int(now // counter[3]) - counter[0] >= 2]
        for key in stale:
            del self._counters[key]
        # Still full of live keys: sweep again only after as many more.
        self._sweep_at = max(SWEEP_AT, 2 * len(self._counters))
