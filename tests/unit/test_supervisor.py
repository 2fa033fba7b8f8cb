"""The background-work supervisor: failures logged by name, periodic jobs that survive failing
runs, bounded restart backoff, and a stop that cancels what outlives its grace period."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from switchyard.runtime.supervisor import Backoff, Supervisor, SupervisorStopped


def errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "switchyard.supervisor" and r.levelno >= logging.WARNING]


async def until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


async def test_a_failing_one_off_task_is_logged_with_its_name(caplog):
    supervisor = Supervisor("test")

    async def deliver() -> None:
        raise ConnectionError("receiver down")

    task = supervisor.spawn(deliver(), name="webhook:42")
    await asyncio.wait([task])
    await asyncio.sleep(0)   # the done callback
    assert errors(caplog) == ["background task 'webhook:42' failed: ConnectionError: receiver down"]
    assert len(supervisor) == 0
    await supervisor.stop()


async def test_a_failing_periodic_job_keeps_running_and_each_failure_is_logged(caplog):
    supervisor = Supervisor("test")
    runs = []

    async def sweep() -> None:
        runs.append(time.monotonic())
        if len(runs) <= 2:
            raise ValueError(f"bad run {len(runs)}")

    supervisor.every(0.01, sweep, name="sweeper:test")
    await until(lambda: len(runs) >= 4)
    await supervisor.stop(grace=1)
    assert errors(caplog) == ["periodic job 'sweeper:test' failed: ValueError: bad run 1",
                              "periodic job 'sweeper:test' failed: ValueError: bad run 2"]
    assert supervisor.names() == []


async def test_a_periodic_job_runs_at_once_with_run_now_and_stop_wakes_its_sleep():
    supervisor = Supervisor("test")
    runs = []

    async def tick() -> None:
        runs.append(1)

    supervisor.every(3600, tick, name="hourly", run_now=True)
    await until(lambda: runs == [1])
    # A sleeping periodic job ends at once: stop does not wait for the (hour-long) grace.
    await asyncio.wait_for(supervisor.stop(grace=3600), timeout=60)


async def test_stop_lets_work_finish_within_grace_and_cancels_the_rest(caplog):
    supervisor = Supervisor("test")
    finished, cancelled = [], []

    async def work(name: str, seconds: float) -> None:
        try:
            await asyncio.sleep(seconds)
            finished.append(name)
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    supervisor.spawn(work("quick", 0.05), name="quick")
    supervisor.spawn(work("slow", 30), name="slow")
    started = time.monotonic()
    # The grace is waited for, and the slow job (30 s) is not: it is cancelled at the end of it.
    await asyncio.wait_for(supervisor.stop(grace=0.3), timeout=25)
    assert time.monotonic() - started >= 0.25
    assert finished == ["quick"] and cancelled == ["slow"] and len(supervisor) == 0
    assert any("still running after 0.3s: slow" in m for m in errors(caplog))
    with pytest.raises(SupervisorStopped):
        supervisor.spawn(work("late", 0), name="late")


async def test_restart_backoff_doubles_and_is_bounded(caplog):
    supervisor = Supervisor("test")
    starts: list[float] = []

    async def listener() -> None:
        starts.append(time.monotonic())
        raise OSError("socket closed")

    supervisor.keep_running(listener, name="listener",
                            backoff=Backoff(initial_delay=0.02, max_delay=0.08, max_restarts=5))
    await until(lambda: not supervisor.names())   # gave up after 5 restarts
    assert len(starts) == 6
    logged = errors(caplog)
    # 0.02, 0.04, 0.08, then capped at 0.08; and the waits really happened.
    assert [m.split(" in ")[1].split("s)")[0] for m in logged[:-1]] == ["0.02", "0.04", "0.08", "0.08", "0.08"]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert [round(g, 2) >= d for g, d in zip(gaps, (0.02, 0.04, 0.08, 0.08, 0.08))] == [True] * 5
    assert logged[0] == "long-lived task 'listener' failed (restart 1 in 0.02s): OSError: socket closed"
    assert logged[-1] == "long-lived task 'listener' failed 6 times in a row, giving up: OSError: socket closed"
    await supervisor.stop()


def test_backoff_delays():
    backoff = Backoff(initial_delay=0.5, max_delay=4)
    assert [backoff.delay(n) for n in range(1, 7)] == [0.5, 1, 2, 4, 4, 4]


async def test_a_long_lived_loop_that_returns_is_not_restarted_and_stop_cancels_one_at_once():
    supervisor = Supervisor("test")
    calls = []

    async def once() -> None:
        calls.append(1)

    async def forever() -> None:
        await asyncio.Event().wait()

    supervisor.keep_running(once, name="once")
    loop_task = supervisor.keep_running(forever, name="forever")
    await until(lambda: supervisor.names() == ["forever"])
    await asyncio.wait_for(supervisor.stop(grace=3600), timeout=60)   # no grace wait for a loop
    assert calls == [1] and loop_task.cancelled()


async def test_cancel_group_cancels_only_that_group():
    supervisor = Supervisor("test")

    async def wait() -> None:
        await asyncio.sleep(30)

    queued = [supervisor.spawn(wait(), name=f"queued-turn:{i}", group="queued-turns") for i in range(2)]
    other = supervisor.spawn(wait(), name="publish")
    assert await supervisor.cancel_group("queued-turns") == 2
    assert all(t.cancelled() for t in queued) and not other.done()
    assert supervisor.names() == ["publish"]
    await supervisor.stop(grace=0)
    assert other.cancelled()
