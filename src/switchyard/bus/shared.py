"""What replicas share in Redis: session leases, the running turn's events, pending approvals
and the per-key run quota (docs/production.md says what each guarantees).

Why Redis and not a lease row in Postgres: a turn takes its lease on every message, so the
lease sits on the hot path of each turn; in Redis it is one round trip with expiry built in
(`SET NX PX`), where a row would be a write transaction per turn plus a sweeper for expiry. The
turn's events already go to Redis (a stream per session, for re-attaching from any replica), so
the lease lives beside them. Schedules and webhook deliveries, which are rare and must survive
a Redis flush, keep their leases in the store (automation/leases.py).

- A **lease** is a key whose value is `<replica>:<run id>`, set with `NX` and a TTL, renewed
  every TTL/3 by this process's heartbeat while the turn runs, deleted (only by its holder,
  compare-and-delete) when it ends. A replica killed mid-turn stops renewing: after the TTL any
  replica may take the session again.
- A turn's **events** go to a Redis stream per session (`XADD`, entries tagged with the run id,
  emptied when the next turn starts there): a client re-attaching on another replica reads the
  turn so far, then blocks for more until `run:complete`.
- A pending **approval** is a key with the payload and the replica whose run waits for it; an
  answer given on another replica is published to that replica's channel. Nobody listening
  there (the replica died) means no run waits: the answer is refused as not found. The
  listing leaves out (and deletes) the approvals of a replica whose heartbeat key
  (`alive:<replica>`, renewed with its leases) has expired.
- The **run quota** is a sorted set per key name: members are runs in progress, scored by when
  their slot expires unless renewed (a crashed replica's runs stop counting after the TTL).
- An agent **configuration change** is announced on one channel with its version; the change
  itself is in the store (runtime/config_sync.py), so a replica that missed the message finds
  it at its next periodic check.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, AsyncIterator

from switchyard.bus import codec
from switchyard.errors import RuntimeFailure
from switchyard.events import Event
from switchyard.ids import new_id

log = logging.getLogger("switchyard.replicas")

DEFAULT_LEASE_TTL = 30.0
STREAM_MAX_EVENTS = 20_000            # a longer turn re-attached elsewhere misses its first events
STREAM_KEEP_MS = 3_600_000            # an idle session's last turn stays readable for an hour
APPROVAL_KEEP_S = 86_400              # a pending approval without a timeout

# Take the lease when it is free or held by an earlier turn of this same replica (whose local
# lock has already passed the session on to this turn); then empty the session's event stream
# for the new turn (KEYS[2]).
_ACQUIRE = """
local v = redis.call('GET', KEYS[1])
if (not v) or string.sub(v, 1, string.len(ARGV[2])) == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return 1 end
return 0"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0"""
_TAKE_SLOT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if tonumber(ARGV[4]) > 0 and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1"""


def _now_ms() -> int:
    return int(time.time() * 1000)


def _unreachable(exc: Exception) -> RuntimeFailure:
    """Without Redis no turn may start (it could run twice): 503, naming only the error's kind
    (the URL may hold a password)."""
    log.error("Redis (shared state) is unreachable: %s", type(exc).__name__)
    return RuntimeFailure("the replicas' shared state (Redis) is unreachable; try again shortly",
                          code="shared_state_unavailable", status=503)


class SharedState:
    """One per process (all hosted agents share it). `prefix` namespaces every key, so several
    deployments (or test runs) can share one Redis."""

    def __init__(self, url: str, *, prefix: str = "switchyard", lease_ttl: float = DEFAULT_LEASE_TTL) -> None:
        import redis.asyncio as redis
        from redis.exceptions import RedisError

        self.redis = redis.from_url(url, decode_responses=True)
        self._errors = RedisError
        self.prefix = prefix
        self.lease_ttl_ms = max(200, int(lease_ttl * 1000))
        self.replica = new_id()
        self._leases: dict[str, str] = {}          # lease key -> our token, renewed by the heartbeat
        self._slots: dict[str, set[str]] = {}      # quota key -> our members, renewed likewise
        self._heartbeat: asyncio.Task[None] | None = None
        self._scripts: dict[str, Any] = {}

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def _script(self, source: str) -> Any:
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self.redis.register_script(source)
        return script

    # --- lifecycle -----------------------------------------------------------------------

    def _ensure_heartbeat(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.get_running_loop().create_task(self._beat(), name="replica-heartbeat")

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.lease_ttl_ms / 3000)
            try:
                await self.renew()
            except Exception as exc:  # noqa: BLE001 - Redis away for a moment: try again next beat
                log.warning("could not renew this replica's leases in Redis: %s", exc)

    async def renew(self) -> None:
        """Extend every lease and run slot this process holds by a TTL, and say it is alive."""
        expires = _now_ms() + self.lease_ttl_ms
        leases = list(self._leases.items())
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.alive_key(self.replica), 1, px=self.lease_ttl_ms)
            for name, token in leases:
                pipe.eval(_RENEW, 1, name, token, self.lease_ttl_ms)
            for name, members in list(self._slots.items()):
                if members:
                    pipe.zadd(name, {m: expires for m in members}, xx=True)
                    pipe.pexpire(name, self.lease_ttl_ms * 2)
            renewed = await pipe.execute()
        lost = [name for (name, _), ok in zip(leases, renewed[1:]) if not ok]
        for name in lost:   # expired before this beat (the event loop was blocked longer than the TTL)
            log.warning("lost the lease %s: another replica may take the session", name)

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            try:
                await self._heartbeat
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        await self.redis.aclose()

    # --- session leases ------------------------------------------------------------------

    def alive_key(self, replica: str) -> str:
        return self.key("alive", replica)

    def lease_key(self, agent_id: str, session_id: str) -> str:
        return self.key("lease", agent_id, session_id)

    async def acquire_lease(self, agent_id: str, session_id: str, run_id: str) -> str | None:
        """The lease of the session for run `run_id`: its token, or None when another replica's
        turn holds it. Taking it also empties the session's event stream for this turn."""
        name, token = self.lease_key(agent_id, session_id), f"{self.replica}:{run_id}"
        try:
            taken = await self._script(_ACQUIRE)(keys=[name, self.stream_key(agent_id, session_id)],
                                                 args=[token, self.replica + ":", self.lease_ttl_ms])
        except (OSError, ConnectionError, self._errors) as exc:
            raise _unreachable(exc) from None
        if not taken:
            return None
        self._leases[name] = token
        self._ensure_heartbeat()
        return token

    async def release_lease(self, agent_id: str, session_id: str, token: str) -> None:
        name = self.lease_key(agent_id, session_id)
        if self._leases.get(name) == token:
            del self._leases[name]
        await self._script(_RELEASE)(keys=[name], args=[token])

    async def lease_holder(self, agent_id: str, session_id: str) -> tuple[str, str] | None:
        """(replica, run id) of the turn holding the session's lease, or None."""
        token = await self.redis.get(self.lease_key(agent_id, session_id))
        if not token:
            return None
        replica, _, run_id = token.partition(":")
        return replica, run_id

    async def running_run(self, agent_id: str, session_id: str) -> str | None:
        """The id of the run holding the session's lease on any replica, or None."""
        holder = await self.lease_holder(agent_id, session_id)
        return holder[1] if holder else None

    # --- the running turn's events -------------------------------------------------------

    def stream_key(self, agent_id: str, session_id: str) -> str:
        return self.key("run", agent_id, session_id)

    async def append(self, agent_id: str, session_id: str, run_id: str, events: list[Event]) -> None:
        """Add a turn's events to its session's stream, in order, in one round trip."""
        name = self.stream_key(agent_id, session_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.xadd(name, {"run": run_id, "e": codec.dumps(event)}, maxlen=STREAM_MAX_EVENTS,
                          approximate=True)
            pipe.pexpire(name, STREAM_KEEP_MS)
            await pipe.execute()

    async def finish(self, agent_id: str, session_id: str, run_id: str, last: Event, token: str) -> None:
        """A turn's last event onto its stream and its lease released, in one round trip."""
        name, stream = self.lease_key(agent_id, session_id), self.stream_key(agent_id, session_id)
        if self._leases.get(name) == token:
            del self._leases[name]
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(stream, {"run": run_id, "e": codec.dumps(last)}, maxlen=STREAM_MAX_EVENTS, approximate=True)
            pipe.pexpire(stream, STREAM_KEEP_MS)
            pipe.eval(_RELEASE, 1, name, token)
            await pipe.execute()

    async def follow(self, agent_id: str, session_id: str, run_id: str,
                     poll: float = 1.0) -> AsyncIterator[Event]:
        """The events of run `run_id` from its start, then as they come, until run:complete.
        Ends early when the run's lease is gone without a run:complete (its replica died)."""
        name, last = self.stream_key(agent_id, session_id), "0"
        while True:
            answer = await self.redis.xread({name: last}, count=500, block=int(poll * 1000))
            if not answer:
                if await self.running_run(agent_id, session_id) != run_id:
                    # One last read: the run may have ended between the two reads.
                    answer = await self.redis.xread({name: last}, count=500)
                    if not answer:
                        return
                else:
                    continue
            for entry_id, fields in answer[0][1]:
                last = entry_id
                if fields.get("run") != run_id:
                    continue
                event = codec.loads_or_skip(fields.get("e"))
                if event is None:
                    continue
                yield event
                if event.name == "run:complete":
                    return

    # --- approvals -----------------------------------------------------------------------

    async def put_approval(self, agent_id: str, payload: dict[str, Any], timeout_ms: int | None) -> None:
        keep = APPROVAL_KEEP_S if timeout_ms is None else max(1, timeout_ms // 1000 + 5)
        record = json.dumps({"replica": self.replica, "payload": payload})
        index = self.key("approvals", agent_id, payload["sessionId"])
        self._ensure_heartbeat()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.alive_key(self.replica), 1, px=self.lease_ttl_ms)
            pipe.set(self.key("approval", agent_id, payload["approvalId"]), record, ex=keep)
            pipe.sadd(index, payload["approvalId"])
            pipe.expire(index, APPROVAL_KEEP_S)
            await pipe.execute()

    async def drop_approval(self, agent_id: str, session_id: str, approval_id: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.delete(self.key("approval", agent_id, approval_id))
            pipe.srem(self.key("approvals", agent_id, session_id), approval_id)
            await pipe.execute()

    async def find_approval(self, agent_id: str, approval_id: str) -> dict[str, Any] | None:
        """{"replica", "payload"} of a pending approval on any replica, or None."""
        record = await self.redis.get(self.key("approval", agent_id, approval_id))
        return json.loads(record) if record else None

    async def approvals_of(self, agent_id: str, session_id: str) -> list[dict[str, Any]]:
        """The payloads of the session's pending approvals, on every live replica (those of a
        replica whose heartbeat expired are deleted: no run waits for them any more)."""
        ids = sorted(await self.redis.smembers(self.key("approvals", agent_id, session_id)))
        if not ids:
            return []
        records = [json.loads(r) for r in await self.redis.mget([self.key("approval", agent_id, i) for i in ids]) if r]
        replicas = sorted({r["replica"] for r in records})
        alive = {replica for replica, beat in zip(replicas, await self.redis.mget([self.alive_key(r) for r in replicas]))
                 if beat}
        for record in records:
            if record["replica"] not in alive:
                await self.drop_approval(agent_id, session_id, record["payload"]["approvalId"])
        return [r["payload"] for r in records if r["replica"] in alive]

    def _answers_channel(self, replica: str, agent_id: str) -> str:
        return self.key("answers", replica, agent_id)

    async def send_answer(self, replica: str, agent_id: str, answer: dict[str, Any]) -> bool:
        """Hand an answer (or a cancel: `{"cancel": session id, "runId"}`) to the replica whose
        run waits; False when that replica is gone."""
        return bool(await self.redis.publish(self._answers_channel(replica, agent_id), json.dumps(answer)))

    async def answers(self, agent_id: str) -> AsyncIterator[dict[str, Any]]:
        """Answers given on other replicas to approvals this replica's runs wait for, and
        cancels of its runs asked for there."""
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(self._answers_channel(self.replica, agent_id))
        try:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    try:
                        yield json.loads(message["data"])
                    except ValueError:
                        log.warning("skipped an unreadable approval answer")
        finally:
            await pubsub.aclose()

    # --- the per-key run quota -----------------------------------------------------------

    async def take_slot(self, owner: str, cap: int) -> str | None:
        """A place among `owner`'s runs in progress on every replica; None at the cap."""
        name, member, now = self.key("runs", owner), new_id(), _now_ms()
        try:
            taken = await self._script(_TAKE_SLOT)(
                keys=[name], args=[now, now + self.lease_ttl_ms, member, cap, self.lease_ttl_ms * 2])
        except (OSError, ConnectionError, self._errors) as exc:
            raise _unreachable(exc) from None
        if not taken:
            return None
        self._slots.setdefault(name, set()).add(member)
        self._ensure_heartbeat()
        return member

    async def release_slot(self, owner: str, member: str) -> None:
        name = self.key("runs", owner)
        members = self._slots.get(name)
        if members is not None:
            members.discard(member)
            if not members:
                del self._slots[name]
        await self.redis.zrem(name, member)


    # --- agent configuration changes -----------------------------------------------------

    async def announce_config(self, version: int) -> None:
        """Tell the other replicas that configuration version `version` is in the store."""
        await self.redis.publish(self.key("agent-config"), json.dumps({"version": version, "replica": self.replica}))

    async def config_versions(self) -> AsyncIterator[int]:
        """The versions announced by the other replicas, as they come."""
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(self.key("agent-config"))
        try:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                try:
                    notice = json.loads(message["data"])
                    if notice.get("replica") != self.replica:
                        yield int(notice["version"])
                except (ValueError, KeyError, TypeError, AttributeError):
                    log.warning("skipped an unreadable configuration notice")
        finally:
            await pubsub.aclose()
