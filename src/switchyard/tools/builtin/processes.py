"""Running shell commands for bash_exec: capped output, process groups, background processes.

Every command starts in a new session (`start_new_session`), so it and everything it forks
share one process group, and the group is what gets killed: on timeout, on cancellation, when
a foreground command's shell has exited (children it left behind do not outlive the call;
use run_in_background for that), and for background processes at shutdown
(`ProcessRegistry.kill_all`, called by the agent when it stops). A process that leaves its
group on purpose (`setsid`) escapes this; SECURITY.md says so.

Output is read in chunks into a `CappedBuffer` that keeps at most `maxOutputBuffer` bytes and
counts the rest, so a flood costs the server no memory beyond the cap.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Coroutine

from switchyard.ids import new_id

Spawn = Callable[[Coroutine[Any, Any, Any], str], Any]
KILL_GRACE_S = 1.0


class CappedBuffer:
    """At most `cap` bytes of a stream; the bytes past the cap are counted, not kept."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        self.dropped += max(0, len(chunk) - max(room, 0))

    def take(self) -> str:
        """The text so far (with a truncation note), and empty the buffer."""
        text = self.data.decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[output truncated: {self.dropped} more bytes were dropped]"
        self.data, self.dropped = bytearray(), 0
        return text


def kill_group(process: asyncio.subprocess.Process, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def _pump(stream: asyncio.StreamReader | None, buffer: CappedBuffer) -> None:
    if stream is None:
        return
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            return
        buffer.add(chunk)


async def start(command: str, cwd: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        "/bin/sh", "-c", command, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)


async def stop_group(process: asyncio.subprocess.Process) -> None:
    """SIGTERM the group, then SIGKILL it after a short grace."""
    kill_group(process, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), KILL_GRACE_S)
    except asyncio.TimeoutError:
        pass
    kill_group(process, signal.SIGKILL)


@dataclass
class ForegroundResult:
    stdout: str
    stderr: str
    exit_code: int | None
    duration: int
    timed_out: bool = False
    cancelled: bool = False


async def run_foreground(command: str, cwd: str, env: dict[str, str], timeout_s: float,
                         cap: int, cancelled: Callable[[], Coroutine[Any, Any, None]]) -> ForegroundResult:
    began = time.monotonic()
    process = await start(command, cwd, env)
    out, err = CappedBuffer(cap), CappedBuffer(cap)
    pumps = [asyncio.ensure_future(_pump(process.stdout, out)), asyncio.ensure_future(_pump(process.stderr, err))]
    waiter = asyncio.ensure_future(process.wait())
    watcher = asyncio.ensure_future(cancelled())
    timed_out = was_cancelled = False
    try:
        done, _ = await asyncio.wait({waiter, watcher}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            timed_out, was_cancelled = watcher not in done, watcher in done
            await stop_group(process)
    finally:
        watcher.cancel()
        # The shell is gone; whatever it forked goes with its group (and releases the pipes).
        kill_group(process)
        if not waiter.done():
            await asyncio.shield(waiter)
        _, stuck = await asyncio.wait(pumps, timeout=KILL_GRACE_S)
        for pump in stuck:
            pump.cancel()
    return ForegroundResult(out.take(), err.take(), process.returncode, int((time.monotonic() - began) * 1000),
                            timed_out, was_cancelled)


@dataclass
class BackgroundProcess:
    process_id: str
    command: str
    process: asyncio.subprocess.Process
    owner: str | None
    started: float = field(default_factory=time.monotonic)
    stdout: CappedBuffer = field(default_factory=lambda: CappedBuffer(1))
    stderr: CappedBuffer = field(default_factory=lambda: CappedBuffer(1))
    ended: float | None = None

    @property
    def status(self) -> str:
        code = self.process.returncode
        if code is None:
            return "running"
        return "completed" if code == 0 else "failed"


class ProcessRegistry:
    """The background processes of one agent's process-tools, by id."""

    def __init__(self, spawn: Spawn, cap: int, max_running: int) -> None:
        self.spawn = spawn
        self.cap = cap
        self.max_running = max_running
        self.processes: dict[str, BackgroundProcess] = {}

    def running(self) -> int:
        return sum(1 for p in self.processes.values() if p.process.returncode is None)

    async def start(self, command: str, cwd: str, env: dict[str, str], timeout_s: float,
                    owner: str | None) -> BackgroundProcess:
        process = await start(command, cwd, env)
        entry = BackgroundProcess(f"proc_{new_id().replace('-', '')[:12]}", command, process, owner,
                                  stdout=CappedBuffer(self.cap), stderr=CappedBuffer(self.cap))
        self.processes[entry.process_id] = entry
        self.spawn(self._watch(entry, timeout_s), f"bash-background:{entry.process_id}")
        return entry

    async def _watch(self, entry: BackgroundProcess, timeout_s: float) -> None:
        pumps = asyncio.gather(_pump(entry.process.stdout, entry.stdout), _pump(entry.process.stderr, entry.stderr))
        try:
            await asyncio.wait_for(entry.process.wait(), timeout_s)
        except asyncio.TimeoutError:
            await stop_group(entry.process)
        finally:
            kill_group(entry.process)
            entry.ended = time.monotonic()
            try:
                await asyncio.wait_for(pumps, KILL_GRACE_S)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pumps.cancel()

    def get(self, process_id: str, owner: str | None) -> BackgroundProcess | None:
        entry = self.processes.get(process_id)
        # Another owner's process is not named, not even as "not yours".
        if entry is None or (entry.owner is not None and entry.owner != owner):
            return None
        return entry

    async def close(self, grace: float = 2.0) -> None:
        """Kill every background process group and reap the processes (bounded by `grace`)."""
        self.kill_all()
        waits = [entry.process.wait() for entry in self.processes.values()]
        if waits:
            await asyncio.wait([asyncio.ensure_future(w) for w in waits], timeout=grace)

    def kill_all(self) -> int:
        count = 0
        for entry in self.processes.values():
            if entry.process.returncode is None:
                kill_group(entry.process)
                count += 1
        return count
