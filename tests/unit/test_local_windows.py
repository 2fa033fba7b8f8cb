"""The in-process sliding window counters behind the rate limiter, on a controlled clock."""

from __future__ import annotations

from limits import parse

from switchyard.server.security import local_windows
from switchyard.server.security.local_windows import LocalWindows


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_allows_the_limit_then_refuses_within_one_window():
    clock = Clock(1000.0)
    windows = LocalWindows(clock)
    item = parse("3/minute")
    results = [windows.hit(item, "k") for _ in range(4)]
    assert [ok for ok, _ in results] == [True, True, True, False]
    assert [stats.remaining for _, stats in results] == [2, 1, 0, 0]
    # The window (960-1020) ends in 20 s: that is when a request frees up.
    assert results[-1][1].reset_time == 1020.0
    # Other keys have their own budget.
    assert windows.hit(item, "other")[0]


def test_previous_window_weighs_in_proportion_to_its_overlap():
    clock = Clock(60.0)                  # the start of window [60, 120)
    windows = LocalWindows(clock)
    item = parse("4/minute")
    assert all(windows.hit(item, "k")[0] for _ in range(4))
    clock.now = 150.0                    # half-way through the next window: 4 * 0.5 = 2 still count
    assert windows.peek(item, "k").remaining == 2
    assert [windows.hit(item, "k")[0] for _ in range(3)] == [True, True, False]
    clock.now = 240.0                    # two windows on: nothing from before counts
    assert windows.peek(item, "k").remaining == 4
    assert all(windows.hit(item, "k")[0] for _ in range(4))


def test_peek_counts_nothing_and_cost_over_the_limit_is_refused():
    clock = Clock(5.0)
    windows = LocalWindows(clock)
    item = parse("2/second")
    assert windows.peek(item, "k").remaining == 2 and len(windows) == 0
    assert windows.hit(item, "k", cost=3)[0] is False
    assert windows.hit(item, "k", cost=2)[0] is True
    assert windows.peek(item, "k").remaining == 0


def test_stale_counters_are_swept(monkeypatch):
    monkeypatch.setattr(local_windows, "SWEEP_AT", 10)
    clock = Clock(0.0)
    windows = LocalWindows(clock)
    item = parse("5/second")
    for i in range(10):
        windows.hit(item, f"addr-{i}")
    assert len(windows) == 10
    clock.now = 3.0                      # every counter is two or more windows old
    windows.hit(item, "fresh")
    assert len(windows) == 1
