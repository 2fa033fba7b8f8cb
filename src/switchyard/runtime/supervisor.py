"""One owner for background work: `Supervisor`.

Work that outlives the request or call that started it runs under a supervisor instead of a
bare `asyncio.create_task`, so that it is never garbage-collected mid-flight, every failure is
logged with the task's name, and shutdown is one call. Three kinds:

- `spawn(coro, name=...)`: a one-off task (a queued turn, a bus publish, soon a webhook
  delivery). A failure is logged once.
- `every(interval, job, name=...)`: a periodic job (a sweep, soon a schedule's tick). A failing
  run is logged and the next one still comes.
- `keep_running(loop, name=...)`: a long-lived loop that should never end; if it fails it is
  started again after a delay that doubles up to `Backoff.max_delay` (and is reset once the
  loop has stayed up for `Backoff.reset_after`), optionally giving up after `max_restarts`.

`stop(grace)` refuses new work, lets one-off tasks and running periodic jobs finish for up to
`grace` seconds, cancels long-lived loops at once (they never finish by themselves), and cancels
whatever remains when the grace period is over. A `group` names a set of tasks that can be
cancelled together before the rest (e.g. the turns queued behind a running one, at shutdown).

Not here: a running turn's own task, which its `Run` owns (it is awaited, cancelled and
re-attached to through the Run), and an MCP connection's task (tools/mcp_client.py), which must
enter and leave the SDK's task groups itself and reports its retries as the server's status.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Coroutine

log = logging.getLogger("switchyard.supervisor")

_ONE_OFF, _PERIODIC, _LONG_LIVED = "one-off", "periodic", "long-lived"


class SupervisorStopped(RuntimeError):
    """New work was offered to a supervisor that is stopping or stopped."""


@dataclass(frozen=True)
class Backoff:
    """Restart policy of a long-lived loop: 0.5 s, 1 s, 2 s, ... up to `max_delay`."""

    initial_delay: float = 0.5
    max_delay: float = 30.0
    reset_after: float = 60.0           # up this long: the next failure starts from initial_delay
    max_restarts: int | None = None     # None: restart for as long as the supervisor runs

    def delay(self, failures: int) -> float:
        return min(self.initial_delay * (2 ** max(failures - 1, 0)), self.max_delay)


@dataclass
class _Entry:
    name: str
    kind: str
    group: str | None


class Supervisor:
    def __init__(self, name: str = "switchyard") -> None:
        self.name = name
        self._tasks: dict[asyncio.Task[Any], _Entry] = {}
        self._stopping = False
        self._stop_event: asyncio.Event | None = None   # created on the running loop, lazily

    # --- starting work -------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str, group: str | None = None) -> asyncio.Task[Any]:
        """Run `coro` in the background; its failure is logged with `name`."""
        return self._start(coro, name, _ONE_OFF, group)

    def every(self, interval: float, job: Callable[[], Awaitable[Any]], *, name: str,
              group: str | None = None, run_now: bool = False) -> asyncio.Task[Any]:
        """Run `job()` every `interval` seconds (after each run ends, so runs never overlap);
        first after one interval, or at once with `run_now`."""
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        return self._start(self._periodic(interval, job, name, run_now), name, _PERIODIC, group)

    def keep_running(self, loop: Callable[[], Awaitable[Any]], *, name: str,
                     backoff: Backoff = Backoff(), group: str | None = None) -> asyncio.Task[Any]:
        """Run `loop()`, and run it again (after a backoff) whenever it fails. A loop that
        returns normally is done and not restarted."""
        return self._start(self._restarting(loop, name, backoff), name, _LONG_LIVED, group)

    def _start(self, coro: Coroutine[Any, Any, Any], name: str, kind: str, group: str | None) -> asyncio.Task[Any]:
        if self._stopping:
            coro.close()   # never awaited: close it so Python does not warn about it
            raise SupervisorStopped(f"supervisor '{self.name}' is stopping; '{name}' was not started")
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks[task] = _Entry(name, kind, group)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        entry = self._tasks.pop(task, None)
        if task.cancelled() or entry is None:
            return
        exc = task.exception()
        if exc is not None:
            log.error("background task '%s' failed: %s: %s", entry.name, type(exc).__name__, exc,
                      exc_info=exc)

    # --- the loops -----------------------------------------------------------------------------

    async def _periodic(self, interval: float, job: Callable[[], Awaitable[Any]], name: str,
                        run_now: bool) -> None:
        if not run_now and await self._stopped_within(interval):
            return
        while not self._stopping:
            try:
                await job()
            except Exception as exc:  # noqa: BLE001 - one failed run must not end the schedule
                log.error("periodic job '%s' failed: %s: %s", name, type(exc).__name__, exc, exc_info=exc)
            if await self._stopped_within(interval):
                return

    async def _restarting(self, loop: Callable[[], Awaitable[Any]], name: str, backoff: Backoff) -> None:
        failures = 0
        while True:
            started = time.monotonic()
            try:
                await loop()
                return
            except Exception as exc:  # noqa: BLE001 - the point is to outlive the loop's failures
                if time.monotonic() - started >= backoff.reset_after:
                    failures = 0
                failures += 1
                if backoff.max_restarts is not None and failures > backoff.max_restarts:
                    log.error("long-lived task '%s' failed %d times in a row, giving up: %s: %s",
                              name, failures, type(exc).__name__, exc, exc_info=exc)
                    return
                delay = backoff.delay(failures)
                log.error("long-lived task '%s' failed (restart %d in %.2fs): %s: %s",
                          name, failures, delay, type(exc).__name__, exc, exc_info=exc)
            if await self._stopped_within(delay):
                return

    async def _stopped_within(self, seconds: float) -> bool:
        """Sleep `seconds`, waking early when the supervisor stops; True if it did."""
        if self._stop_event is None:
            self._stop_event = asyncio.Event()
        if self._stopping:
            return True
        try:
            await asyncio.wait_for(self._stop_event.wait(), seconds)
            return True
        except asyncio.TimeoutError:
            return False

    # --- queries and shutdown --------------------------------------------------------------------

    def names(self, group: str | None = None) -> list[str]:
        """The names of the tasks still running (of one group, if given)."""
        return [e.name for e in self._tasks.values() if group is None or e.group == group]

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def cancel_group(self, group: str, timeout: float = 5.0) -> int:
        """Cancel the tasks of one group and wait (up to `timeout`) for them to end; returns
        how many were cancelled."""
        tasks = [t for t, e in self._tasks.items() if e.group == group and not t.done()]
        await self._cancel(tasks, timeout)
        return len(tasks)

    async def stop(self, grace: float = 5.0, *, cancel_timeout: float = 5.0) -> None:
        """Refuse new work; give one-off tasks and running periodic jobs `grace` seconds; cancel
        the rest (long-lived loops at once) and wait up to `cancel_timeout` for them to end."""
        self._stopping = True
        if self._stop_event is not None:
            self._stop_event.set()
        long_lived = [t for t, e in self._tasks.items() if e.kind == _LONG_LIVED]
        await self._cancel(long_lived, cancel_timeout)
        remaining = [t for t in self._tasks if not t.done()]
        if remaining and grace > 0:
            await asyncio.wait(remaining, timeout=grace)
        late = [t for t in self._tasks if not t.done()]
        if late:
            log.warning("supervisor '%s': cancelling %d task(s) still running after %.1fs: %s",
                        self.name, len(late), grace, ", ".join(self._tasks[t].name for t in late))
        await self._cancel(late, cancel_timeout)

    async def _cancel(self, tasks: list[asyncio.Task[Any]], timeout: float) -> None:
        if not tasks:
            return
        for task in tasks:
            task.cancel()
        _, stuck = await asyncio.wait(tasks, timeout=timeout)
        for task in stuck:
            log.error("background task '%s' did not stop within %.1fs of being cancelled",
                      task.get_name(), timeout)
