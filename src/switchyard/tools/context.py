"""What a tool knows about the call it is serving: `ToolCallContext`.

The turn builds one context per tool call and passes it to the policy hook (tools/policy.py)
and to the tool's `call`. A tool that works on files or runs processes reads the working
folder and the owner from it; a long tool watches `cancellation`, which the turn sets when it
is cancelled or the call times out. An async tool is also cancelled the ordinary asyncio way;
the token matters for a sync tool, which runs in a worker thread that asyncio cannot stop.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path


class Cancellation:
    """A one-way flag, safe to read from any thread: `cancelled` to poll, `wait()` to await
    (on the event loop), `wait_blocking(timeout)` to sleep in a worker thread and wake early."""

    def __init__(self) -> None:
        self._flag = threading.Event()
        self.reason: str | None = None
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self._flag.is_set()

    def cancel(self, reason: str = "cancelled") -> None:
        """Set the flag (idempotent; the first reason is kept). Callable from any thread."""
        with self._lock:
            if self._flag.is_set():
                return
            self.reason = reason
            self._flag.set()
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            loop.call_soon_threadsafe(_resolve, future)

    async def wait(self) -> None:
        """Return once cancelled."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._flag.is_set():
                return
            self._waiters.append((loop, future))
        try:
            await future
        finally:
            with self._lock:
                if (loop, future) in self._waiters:
                    self._waiters.remove((loop, future))

    def wait_blocking(self, timeout: float | None = None) -> bool:
        """For sync tools: sleep up to `timeout` seconds, waking at once if cancelled.
        Returns whether the call is cancelled."""
        return self._flag.wait(timeout)

    def __repr__(self) -> str:
        return f"Cancellation(cancelled={self.cancelled}, reason={self.reason!r})"


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass(frozen=True)
class ToolCallContext:
    """One tool call as the turn sees it.

    `owner` is the session's owner (the API key's name, or None when auth is off or the
    session predates it); `working_dir` is the folder relative paths resolve against (the
    agent's folder); `call_id` is the model's id for the call. A call made outside a turn
    (e.g. the admin's "execute tool" route) has no session.
    """

    call_id: str
    session_id: str | None = None
    owner: str | None = None
    agent_id: str | None = None
    working_dir: Path = field(default_factory=Path.cwd)
    cancellation: Cancellation = field(default_factory=Cancellation)

    @property
    def cancelled(self) -> bool:
        return self.cancellation.cancelled
