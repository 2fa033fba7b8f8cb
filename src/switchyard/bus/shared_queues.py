"""Steer and follow-up queues kept in Redis, for replicas (runtime/queues.py is the one-process
kind; runtime/queued_input.py uses either).

A queue is a Redis list per agent, session and queue name (`<prefix>:queue:<agent>:<session>:
<steer|follow-up>`) of JSON messages with the reference's fields (`id`, `content`, `queuedAt`,
`kind`, `metadata`). Every change is one Lua script, so two replicas never see half of one:
adding checks the cap and appends; taking pops atomically, so a message is handed to one turn
only. A set per agent (`<prefix>:queued:<agent>`) names the sessions with something queued: a
replica's periodic check starts the next queued turn of a session whose receiving replica died
(runtime/queued_input.py `sweep`).
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any, AsyncIterator

if TYPE_CHECKING:
    from switchyard.bus.shared import SharedState

# KEYS[1] the queue, KEYS[2] the agent's set of sessions with queued input.
# ARGV: message JSON, cap, session id. Returns the new length, or -1 when full.
_ADD = """
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
local n = redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[3])
return n"""
_TAKE_ALL = """
local items = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return items"""
# Remove the message whose JSON has id ARGV[1] (ids are unique; the JSON starts with it).
_REMOVE = """
local items = redis.call('LRANGE', KEYS[1], 0, -1)
for _, item in ipairs(items) do
  if string.sub(item, 1, string.len(ARGV[1])) == ARGV[1] then
    redis.call('LREM', KEYS[1], 1, item)
    return 1 end
end
return 0"""
# Forget a session in the set once both its queues are empty (atomically with respect to _ADD).
_TIDY = """
if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[1]) return 1 end
return 0"""


def encode(message: dict[str, Any]) -> str:
    # `id` first: _REMOVE finds a message by the prefix of its JSON.
    return json.dumps({"id": message["id"], **{k: v for k, v in message.items() if k != "id"}})


def id_prefix(message_id: str) -> str:
    return json.dumps({"id": message_id})[:-1]


class RedisQueues:
    """The queues of one agent's sessions in Redis: plain dicts in, plain dicts out. Redis
    unreachable: RuntimeFailure 503 `shared_state_unavailable` (bus/shared.py)."""

    def __init__(self, shared: "SharedState", agent_id: str) -> None:
        self.shared = shared
        self.redis = shared.redis
        self.agent_id = agent_id

    @contextlib.asynccontextmanager
    async def _redis_call(self) -> AsyncIterator[None]:
        from switchyard.bus.shared import _unreachable
        try:
            yield
        except (OSError, ConnectionError, self.shared._errors) as exc:
            raise _unreachable(exc) from None

    def _key(self, queue: str, session_id: str) -> str:
        return self.shared.key("queue", self.agent_id, session_id, queue)

    def _index(self) -> str:
        return self.shared.key("queued", self.agent_id)

    async def add(self, queue: str, session_id: str, message: dict[str, Any], cap: int) -> int:
        """The message's 1-based position, or -1 when the queue holds `cap` messages."""
        async with self._redis_call():
            return int(await self.shared._script(_ADD)(keys=[self._key(queue, session_id), self._index()],
                                                        args=[encode(message), cap, session_id]))

    async def list(self, queue: str, session_id: str) -> list[dict[str, Any]]:
        async with self._redis_call():
            return [json.loads(item) for item in await self.redis.lrange(self._key(queue, session_id), 0, -1)]

    async def length(self, queue: str, session_id: str) -> int:
        async with self._redis_call():
            return int(await self.redis.llen(self._key(queue, session_id)))

    async def remove(self, queue: str, session_id: str, message_id: str) -> bool:
        async with self._redis_call():
            return bool(await self.shared._script(_REMOVE)(keys=[self._key(queue, session_id)],
                                                            args=[id_prefix(message_id)]))

    async def take_all(self, queue: str, session_id: str) -> list[dict[str, Any]]:
        async with self._redis_call():
            items = await self.shared._script(_TAKE_ALL)(keys=[self._key(queue, session_id)], args=[])
            return [json.loads(item) for item in items or ()]

    async def take_first(self, queue: str, session_id: str) -> dict[str, Any] | None:
        async with self._redis_call():
            item = await self.redis.lpop(self._key(queue, session_id))
            return json.loads(item) if item else None

    async def put_back(self, queue: str, session_id: str, messages: list[dict[str, Any]]) -> None:
        """Messages taken for a turn that could not start: back at the head, in their order."""
        async with self._redis_call():
            if messages:
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.lpush(self._key(queue, session_id), *[encode(m) for m in reversed(messages)])
                    pipe.sadd(self._index(), session_id)
                    await pipe.execute()

    async def waiting_sessions(self) -> list[str]:
        """The sessions with queued input (or that had some until lately)."""
        async with self._redis_call():
            return sorted(await self.redis.smembers(self._index()))

    async def tidy(self, session_id: str) -> bool:
        """Forget the session in the set when both its queues are empty; True when forgotten."""
        async with self._redis_call():
            return bool(await self.shared._script(_TIDY)(
                keys=[self._key("steer", session_id), self._key("follow-up", session_id), self._index()],
                args=[session_id]))
