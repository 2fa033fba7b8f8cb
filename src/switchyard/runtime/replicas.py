"""An agent (runtime/agent.py, typed Any here: it imports this module) joined to its replicas (bus/shared.py): the session lease and the turn's shared
event stream (runtime/runs.py, runtime/publisher.py), approvals listed and answered on any
replica, and the per-key run quota counted in Redis."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from switchyard.errors import NotFoundError, RequestError

if TYPE_CHECKING:
    from switchyard.bus.shared import SharedState

log = logging.getLogger("switchyard.replicas")


class ApprovalRelay:
    """What the approval coordinator tells the other replicas (tools/approval.py `shared`)."""

    def __init__(self, shared: "SharedState", agent_id: str) -> None:
        self.shared = shared
        self.agent_id = agent_id

    async def registered(self, payload: dict[str, Any]) -> None:
        await self.shared.put_approval(self.agent_id, payload, payload.get("timeout"))

    async def settled(self, payload: dict[str, Any]) -> None:
        await self.shared.drop_approval(self.agent_id, payload["sessionId"], payload["approvalId"])

    # "Remember this choice": a set of tool names per session, kept (as in one process) until
    # the session is deleted or reset.
    def _remembered_key(self, session_id: str) -> str:
        return self.shared.key("remembered", self.agent_id, session_id)

    async def remember(self, session_id: str, tool_name: str) -> None:
        await self.shared.redis.sadd(self._remembered_key(session_id), tool_name)

    async def is_remembered(self, session_id: str, tool_name: str) -> bool:
        return bool(await self.shared.redis.sismember(self._remembered_key(session_id), tool_name))

    async def forget(self, session_id: str) -> None:
        await self.shared.redis.delete(self._remembered_key(session_id))


def join(agent: Any, shared: "SharedState", box: Any = None) -> None:
    """Make `agent` one of a set of replicas sharing `shared` (before it starts). `box`:
    server/secret_box.SecretBox when every replica has the same SWITCHYARD_SECRET_KEY."""
    from switchyard.runtime.session_state import SharedSessionState
    agent.shared = shared
    agent.runs.shared = shared
    agent.runs.quota.shared = shared
    agent.publisher.shared = shared
    agent.queued.share(shared, agent.id)
    agent.session_state = SharedSessionState(shared, agent.id, agent.prompt, box)
    agent.runs.prepare = agent.session_state.prepare


def started(agent: Any) -> None:
    """Once the agent started (its approval coordinator exists): relay approvals."""
    shared = agent.shared
    if shared is None:
        return
    # Queued input a dead replica left behind (runtime/queued_input.py).
    agent.supervisor.every(max(0.5, shared.lease_ttl_ms / 3000), agent.queued.sweep, name=f"queue-sweep:{agent.id}")
    if agent.approvals is None:
        return
    agent.approvals.shared = ApprovalRelay(shared, agent.id)
    # Long-lived: restarted after a failure (Redis gone for a while), cancelled at once at stop.
    agent.supervisor.keep_running(lambda: _answers(agent, shared), name=f"approval-answers:{agent.id}")


async def _answers(agent: Any, shared: "SharedState") -> None:
    """Answers given on other replicas to approvals this replica's runs wait for, and
    cancels of its runs."""
    async for answer in shared.answers(agent.id):
        if "cancel" in answer:
            agent.supervisor.spawn(agent.runs.cancel(answer["cancel"], answer.get("runId") or ""),
                                   name=f"cancel:{answer['cancel']}")
            continue
        try:
            agent.approvals.resolve(answer["approvalId"], answer["status"], remember=answer.get("rememberChoice", False),
                                    reason=answer.get("reason"), message=answer.get("message"),
                                    form_data=answer.get("formData"))
        except (NotFoundError, RequestError, KeyError) as exc:
            log.info("an approval answer from another replica found nothing waiting: %s", exc)


async def pending_elsewhere(agent: Any, session_id: str) -> list[dict[str, Any]]:
    """The session's pending approvals on every replica (none without replicas)."""
    if agent.shared is None:
        return []
    return await agent.shared.approvals_of(agent.id, session_id)


async def answer_elsewhere(agent: Any, approval_id: str, answer: dict[str, Any],
                           may_see: Any) -> bool | None:
    """Answer an approval another replica's run waits for. None when no replica has it (or
    `may_see(session_id)` says the caller may not see its session); False when the replica
    that asked is gone; True when handed over."""
    if agent.shared is None:
        return None
    record = await agent.shared.find_approval(agent.id, approval_id)
    if record is None or not await may_see(record["payload"]["sessionId"]):
        return None
    sent = await agent.shared.send_answer(record["replica"], agent.id, {"approvalId": approval_id, **answer})
    if not sent:
        await agent.shared.drop_approval(agent.id, record["payload"]["sessionId"], approval_id)
    return sent
