"""An agent's runs: start one (or queue it behind the session's running one), attach to it,
cancel it, and let the running ones finish at shutdown. One turn at a time per session: in this
process by the session's lock, across replicas also by its lease in Redis (bus/shared.py)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable

from switchyard.errors import ConflictError, RequestError
from switchyard.events import Event, RoutingDecisionEvent
from switchyard.ids import new_id, now_ms
from switchyard.llm.base import content_to_text
from switchyard.runtime.interruptions import unanswered_marker
from switchyard.runtime.run import Run
from switchyard.runtime.run_quota import RunQuota, RunSlot
from switchyard.runtime.sessions import LiveSessions
from switchyard.runtime.turn import TurnContext, TurnRunner
from switchyard.store import Store

log = logging.getLogger("switchyard.agent")

TITLE_LENGTH = 60
LEASE_POLL_SECONDS = 0.25       # a queued turn waiting for another replica's turn checks this often
LEASE_RELEASE_TIMEOUT = 5.0
CANCEL_WAIT_SECONDS = 10.0      # as long as a local cancel waits for its run to stop


def title_from(content: Any) -> str | None:
    """A new session's title: the first line of its first message, shortened."""
    text = content_to_text(content).strip().splitlines()
    if not text:
        return None
    first = text[0].strip()
    return first if len(first) <= TITLE_LENGTH else first[: TITLE_LENGTH - 1].rstrip() + "…"


class Runs:
    def __init__(self, agent_id: str, store: Store, live: LiveSessions,
                 context_for: Callable[[Run], TurnContext]) -> None:
        self.agent_id = agent_id
        # Per-key runs in progress; the host shares one quota among its agents (AgentHost).
        self.quota = RunQuota()
        self.store = store
        self.live = live
        self._context_for = context_for
        # The runs this agent started that have not ended. Not live.runs(): after a reload
        # the live sessions are shared with the successor, whose runs are not ours to drain.
        self.active: set[Run] = set()
        # bus.shared.SharedState when replicas share Redis (set before the agent starts).
        self.shared: Any = None
        # With replicas: `prepare(session_id, live)` loads the session's shared state before a
        # turn (runtime/session_state.py).
        self.prepare: Callable[[str, Any], Any] | None = None
        # (session id, content) -> the content stored and sent: `@resource` mentions expanded
        # (runtime/resource_mentions.py); None: as typed.
        self.expand: Callable[[str, Any], Awaitable[Any]] | None = None

    async def start(self, session_id: str | None, content: Any, *, wait: bool = True,
                    owner: str | None = None, first: Iterable[Event] = (),
                    slot: RunSlot | None = None) -> Run:
        """Start a turn in the background. With wait=False a busy session raises
        ConflictError; with wait=True the turn queues behind the running one. `first` are
        events the run begins with (e.g. the routing decision that chose this agent). The run
        holds a place in its owner's run quota (`slot`, taken here when not given) from now
        until its turn ends, queued or running."""
        session_id = session_id or new_id()
        if not content_to_text(content).strip() and not (isinstance(content, list) and content):
            if slot is not None:
                slot.release()
            raise RequestError("`content` must not be empty", details={"field": "content"})
        slot = slot or await self.quota.take(owner)
        try:
            run = await self._start(session_id, content, wait=wait, owner=owner, first=first)
        except BaseException:
            slot.release()
            raise
        assert run.task is not None
        run.task.add_done_callback(lambda _task: slot.release())
        return run

    async def _start(self, session_id: str, content: Any, *, wait: bool, owner: str | None,
                     first: Iterable[Event]) -> Run:
        live = self.live.get(session_id, owner=owner)
        if not wait and (live.busy or live.lock.locked()):
            raise ConflictError(f"session {session_id} is busy with another run", code="session_busy")
        typed = content
        if self.expand is not None:
            content = await self.expand(session_id, content)
        live.waiters += 1
        try:
            await live.lock.acquire()
        finally:
            live.waiters -= 1
        run_id = token = None
        user_msg = {"id": new_id(), "role": "user", "content": content, "timestamp": now_ms()}
        first = tuple(first)
        for event in first:    # a routed message keeps the decision that routed it
            if isinstance(event, RoutingDecisionEvent):
                user_msg["routing"] = event.record()
        try:
            if self.shared is not None:
                run_id = new_id()
                token = await self._take_lease(session_id, run_id, wait)
            if self.prepare is not None:
                await self.prepare(session_id, live)
            # The session (if new) and the user's message, in one transaction, before the run.
            # A user message left unanswered by a lost turn gets its marker first.
            session, created, next_seq = await self.store.sessions.begin_turn(
                self.agent_id, session_id, user_msg, owner=owner, title=title_from(typed),
                unanswered=unanswered_marker())
        except BaseException:
            if token is not None:
                await self.shared.release_lease(self.agent_id, session_id, token)
            live.lock.release()
            raise
        run = Run(session_id, run_id)
        run.lease = token
        ctx = self._context_for(run)
        for event in first:
            ctx.publish(event)
        live.run = run
        run.task = asyncio.create_task(TurnRunner(ctx).execute(run, live, session, user_msg, new=created,
                                                               next_seq=next_seq),
                                       name=f"run:{session_id}")
        self.active.add(run)
        run.task.add_done_callback(lambda _task: self.active.discard(run))
        return run

    async def _take_lease(self, session_id: str, run_id: str, wait: bool) -> str:
        """The session's shared lease: ConflictError when another replica's turn holds it and
        `wait` is False, else polled until that turn ends (or its replica's lease expires)."""
        while True:
            token = await self.shared.acquire_lease(self.agent_id, session_id, run_id)
            if token is not None:
                return token
            if not wait:
                raise ConflictError(f"session {session_id} is busy with another run", code="session_busy")
            await asyncio.sleep(LEASE_POLL_SECONDS)

    async def end_turn(self, run: Run, complete: Event) -> None:
        """The turn ends (TurnContext.end_turn): its run:complete goes to the shared stream after
        every earlier event, then the session's lease is released; only then is the end
        published here (so nobody sees the end while the session still looks busy)."""
        token = run.lease
        if token is None:
            return
        run.lease = None
        try:
            if run.flush is not None:
                await asyncio.wait_for(run.flush(), LEASE_RELEASE_TIMEOUT)   # the earlier events
        finally:
            run.forward = None     # the local publish of run:complete that follows stays local
        await asyncio.wait_for(self.shared.finish(self.agent_id, run.session_id, run.id, complete, token),
                               LEASE_RELEASE_TIMEOUT)

    async def busy_anywhere(self, session_id: str) -> bool:
        """Whether a turn runs on the session here or, with replicas, on any of them."""
        if self.is_busy(session_id):
            return True
        return self.shared is not None and await self.shared.running_run(self.agent_id, session_id) is not None

    async def attach_anywhere(self, session_id: str) -> AsyncIterator[Event]:
        """The running turn's events from its start, whichever replica runs it."""
        run = self.current(session_id)
        if run is None and self.shared is not None:
            run_id = await self.shared.running_run(self.agent_id, session_id)
            if run_id is not None:
                return self.shared.follow(self.agent_id, session_id, run_id)
        return self.attach(session_id)

    async def mark_lost_turns(self) -> int:
        """Mark every session whose history ends unanswered (the process died mid-turn).
        Only where no other process can be running a turn on the same database right now
        (one SQLite file, one server), so it is called at start for SQLite; elsewhere the
        next turn of such a session marks it (Runs.start)."""
        lost = await self.store.sessions.unanswered(self.agent_id)
        for session_id in lost:
            if not self.is_busy(session_id):
                await self.store.sessions.append(self.agent_id, session_id, [unanswered_marker()])
        if lost:
            log.warning("agent %s: %d session(s) had a turn interrupted before its answer "
                        "(server stopped mid-turn); marked in their history", self.agent_id, len(lost))
        return len(lost)

    def is_busy(self, session_id: str) -> bool:
        live = self.live.peek(session_id)
        return bool(live and live.busy)

    def current(self, session_id: str) -> Run | None:
        live = self.live.peek(session_id)
        return live.run if live and live.busy else None

    def latest(self, session_id: str) -> Run | None:
        """The session's running or last finished run, while the session is in memory."""
        live = self.live.peek(session_id)
        return live.run if live is not None else None

    def attach(self, session_id: str) -> AsyncIterator[Event]:
        """The running turn's events, from its start. ConflictError when nothing runs."""
        run = self.current(session_id)
        if run is None:
            raise ConflictError(f"session {session_id} has no running turn", code="session_not_busy")
        return run.follow()

    async def cancel(self, session_id: str, run_id: str | None = None) -> bool:
        """Cancel the session's running turn (only if it is run `run_id`, when given); with
        replicas, also one running on another replica (asked over Redis, waited for)."""
        run = self.current(session_id)
        if run is None and run_id is None and self.shared is not None:
            return await self._cancel_elsewhere(session_id)
        if run is None or run.task is None or (run_id is not None and run.id != run_id):
            return False
        run.task.cancel()
        try:
            await asyncio.wait_for(run.wait(), timeout=10)
        except asyncio.TimeoutError:
            log.error("run of session %s did not stop within 10 s of cancel", session_id)
        return True

    async def _cancel_elsewhere(self, session_id: str) -> bool:
        holder = await self.shared.lease_holder(self.agent_id, session_id)
        if holder is None:
            return False
        replica, run_id = holder
        if not await self.shared.send_answer(replica, self.agent_id, {"cancel": session_id, "runId": run_id}):
            return False    # that replica is gone: its lease expires by itself
        for _ in range(int(CANCEL_WAIT_SECONDS / LEASE_POLL_SECONDS)):
            if await self.shared.running_run(self.agent_id, session_id) != run_id:
                break
            await asyncio.sleep(LEASE_POLL_SECONDS)
        return True

    async def drain(self, grace: float) -> None:
        """Let running turns finish within `grace` seconds, then cancel the rest."""
        runs = list(self.active)
        if not runs:
            return
        done, pending = await asyncio.wait([asyncio.ensure_future(r.wait()) for r in runs], timeout=grace)
        for pending_wait in pending:
            pending_wait.cancel()
        for run in runs:
            if not run.done and run.task:
                run.task.cancel()
        for run in runs:
            if run.task:
                try:
                    await asyncio.wait_for(asyncio.shield(run.task), timeout=5)
                except (asyncio.CancelledError, asyncio.TimeoutError, Exception):  # noqa: BLE001
                    pass
