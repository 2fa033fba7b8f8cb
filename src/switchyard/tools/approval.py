"""Tool-call approval: policies, pending requests, and the body rules of POST /api/approvals/{id}.

`ApprovalCoordinator.authorize()` is called by the agent loop before each tool call. It asks
the tool policies (tools/policy.py: the config's `permissions` first, then any added policy)
with the call's arguments and context: deny -> denied (reason "system_denied", the policy's
text as message); allow -> approved; ask -> approved at once if a person chose "remember" for
this tool in this session, else a pending approval is published as "approval:request" and the
call waits for `resolve()` (the HTTP route), the permissions timeout (-> cancelled, reason
"timeout"), or `cancel_session()` (a cancelled run). The outcome of asking is published as
"approval:response". Policy names match the tool's name exactly, as the model sees it (e.g.
"get_weather" or "weather--get_weather" when prefixed).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Literal, Sequence

from switchyard.config.schema import PermissionsConfig
from switchyard.errors import NotFoundError, RequestError
from switchyard.events import ApprovalRequestEvent, ApprovalResponseEvent, Event
from switchyard.ids import new_id
from switchyard.tools.context import ToolCallContext
from switchyard.tools.policy import PermissionsPolicy, ToolPolicy, decide

log = logging.getLogger("switchyard.approval")

Status = Literal["approved", "denied", "cancelled"]
STATUSES = ("approved", "denied", "cancelled")
DENY_REASONS = ("user_denied", "system_denied", "validation_failed", "elicitation_disabled")
CANCEL_REASONS = ("user_cancelled", "system_cancelled", "timeout")
REASONS = DENY_REASONS + CANCEL_REASONS

Emit = Callable[[Event], Awaitable[None]]


@dataclass
class ApprovalOutcome:
    status: Status
    reason: str | None = None
    message: str | None = None
    approval_id: str | None = None        # None when a policy decided without asking
    form_data: dict[str, Any] | None = None

    @property
    def approved(self) -> bool:
        return self.status == "approved"


@dataclass
class _Pending:
    payload: dict[str, Any]
    future: asyncio.Future
    session_id: str
    tool_name: str
    extra: dict[str, Any] = field(default_factory=dict)   # e.g. timeoutMs for the response event


class ApprovalCoordinator:
    """`policies` are asked after the config's permissions (see tools/policy.py for how they
    compose); `self.policies` is the whole list, in order, and may be extended at run time."""

    def __init__(self, permissions: PermissionsConfig, emit: Emit,
                 policies: Sequence[ToolPolicy] = ()) -> None:
        self.permissions = permissions
        self.emit = emit
        self.policies: list[ToolPolicy] = [PermissionsPolicy(permissions), *policies]
        self._pending: dict[str, _Pending] = {}
        self._remembered: dict[str, set[str]] = {}   # session id -> tool names approved for it
        # With replicas (runtime/replicas.py): told of each pending approval and of its end, so
        # that another replica can list and answer it. `registered(payload)`, `settled(payload)`.
        self.shared: Any = None

    async def authorize(self, session_id: str, tool_name: str, tool_call_id: str,
                        args: dict[str, Any], *, context: ToolCallContext | None = None) -> ApprovalOutcome:
        if context is None:
            context = ToolCallContext(call_id=tool_call_id, session_id=session_id)
        decision = await decide(self.policies, tool_name, args, context)
        if decision.action == "deny":
            return ApprovalOutcome("denied", "system_denied", decision.reason)
        if decision.action == "allow" or tool_name in self._remembered.get(session_id, ()):
            return ApprovalOutcome("approved")
        if self.shared is not None and await self._remembered_elsewhere(session_id, tool_name):
            return ApprovalOutcome("approved")
        return await self._ask(session_id, tool_name, tool_call_id, args)

    async def request_input(self, session_id: str, tool_name: str, tool_call_id: str,
                            request: dict[str, Any]) -> ApprovalOutcome:
        """Ask a person for input (ask_user): always asked, never remembered. The request is
        an approval:request whose args carry it; the answer is the approval's formData."""
        return await self._ask(session_id, tool_name, tool_call_id, request)

    async def _ask(self, session_id: str, tool_name: str, tool_call_id: str,
                   args: dict[str, Any]) -> ApprovalOutcome:
        approval_id = new_id()
        timeout_ms = self.permissions.timeout
        payload = {
            "approvalId": approval_id,
            "type": "tool_approval",
            "sessionId": session_id,
            "timeout": timeout_ms,
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "metadata": {"toolName": tool_name, "toolCallId": tool_call_id, "args": args},
        }
        pending = _Pending(payload, asyncio.get_running_loop().create_future(), session_id, tool_name)
        self._pending[approval_id] = pending
        try:
            if self.shared is not None:
                await self._tell_shared("registered", payload)
            try:
                await self.emit(ApprovalRequestEvent(session_id, approval_id, tool_name, tool_call_id, args, timeout_ms, payload["timestamp"]))
            except Exception as exc:
                # Nobody can answer a request that was never published: do not wait forever.
                log.exception("publishing approval %s failed", approval_id)
                self._settle(pending, ApprovalOutcome(
                    "cancelled", "system_cancelled", f"could not publish the approval request: {exc}",
                    approval_id))
            if timeout_ms is None:
                outcome = await asyncio.shield(pending.future)
            else:
                try:
                    outcome = await asyncio.wait_for(asyncio.shield(pending.future), timeout_ms / 1000)
                except asyncio.TimeoutError:
                    pending.extra["timeoutMs"] = timeout_ms
                    self._settle(pending, ApprovalOutcome(
                        "cancelled", "timeout", f"Approval request timed out after {timeout_ms} ms",
                        approval_id))
                    outcome = pending.future.result()
        finally:
            # Also when the waiting task itself is cancelled: no orphaned pending entry.
            self._pending.pop(approval_id, None)
            if self.shared is not None:
                await self._tell_shared("settled", payload)
        if pending.extra.get("remember") and self.shared is not None:
            await self._remember_elsewhere(session_id, tool_name)
        try:
            await self.emit(ApprovalResponseEvent(session_id, approval_id, outcome.status, outcome.reason, outcome.message, pending.extra.get("timeoutMs")))
        except Exception:
            log.exception("publishing approval response %s failed", approval_id)
        return outcome

    async def _tell_shared(self, what: str, payload: dict[str, Any]) -> None:
        try:
            await getattr(self.shared, what)(payload)
        except Exception:  # noqa: BLE001 - other replicas then cannot see or answer it
            log.warning("approval %s: could not tell the other replicas (%s)", payload["approvalId"], what,
                        exc_info=True)

    async def _remembered_elsewhere(self, session_id: str, tool_name: str) -> bool:
        try:
            return bool(await self.shared.is_remembered(session_id, tool_name))
        except Exception:  # noqa: BLE001 - Redis away: ask, as without a remembered choice
            log.warning("could not read the remembered approvals of session %s", session_id, exc_info=True)
            return False

    async def _remember_elsewhere(self, session_id: str, tool_name: str) -> None:
        """A remembered choice, for this session's turns on the other replicas."""
        try:
            await self.shared.remember(session_id, tool_name)
        except Exception:  # noqa: BLE001 - it still holds on this replica
            log.warning("could not share the remembered approval of session %s", session_id, exc_info=True)

    async def forget_shared(self, session_id: str) -> None:
        """With replicas: drop the session's remembered approvals on all of them too."""
        if self.shared is not None:
            try:
                await self.shared.forget(session_id)
            except Exception:  # noqa: BLE001
                log.warning("could not forget the shared approvals of session %s", session_id, exc_info=True)

    def pending(self, session_id: str | None = None) -> list[dict[str, Any]]:
        """The pending approval payloads (as sent in approval:request), of one session or all."""
        return [dict(p.payload) for p in self._pending.values()
                if session_id is None or p.session_id == session_id]

    def resolve(self, approval_id: str, status: Status, *, remember: bool = False,
                reason: str | None = None, message: str | None = None,
                form_data: dict[str, Any] | None = None) -> ApprovalOutcome:
        pending = self._pending.get(approval_id)
        if pending is None or pending.future.done():
            raise NotFoundError(f"No pending approval '{approval_id}'", code="approval_not_found")
        if status not in STATUSES:
            raise RequestError(f"status must be one of {', '.join(STATUSES)}", details={"field": "status"})
        if status == "denied":
            reason, message = reason or "user_denied", message or "User denied the request"
        elif status == "cancelled":
            reason, message = reason or "user_cancelled", message or "User cancelled the request"
        outcome = ApprovalOutcome(status, reason, message, approval_id, form_data)
        self._settle(pending, outcome)
        if status == "approved" and remember:
            pending.extra["remember"] = True   # shared with the replicas by the waiting _ask
            tools = self._remembered.setdefault(pending.session_id, set())
            tools.add(pending.tool_name)
            # Remembering covers calls already waiting for the same tool in this session.
            for other in list(self._pending.values()):
                if (other.session_id == pending.session_id and other.tool_name == pending.tool_name
                        and not other.future.done()):
                    self._settle(other, ApprovalOutcome("approved", approval_id=other.payload["approvalId"]))
        return outcome

    def cancel_session(self, session_id: str, message: str = "The run was cancelled") -> int:
        """Cancel every pending approval of a session (its run was cancelled); returns how many."""
        count = 0
        for pending in list(self._pending.values()):
            if pending.session_id == session_id and not pending.future.done():
                self._settle(pending, ApprovalOutcome(
                    "cancelled", "system_cancelled", message, pending.payload["approvalId"]))
                count += 1
        return count

    def forget_session(self, session_id: str) -> None:
        """Drop a session's remembered approvals (session deleted or reset)."""
        self._remembered.pop(session_id, None)
        self.cancel_session(session_id, "The session ended")

    def remembered(self, session_id: str) -> set[str]:
        return set(self._remembered.get(session_id, ()))

    @staticmethod
    def _settle(pending: _Pending, outcome: ApprovalOutcome) -> None:
        if not pending.future.done():
            pending.future.set_result(outcome)


# --- POST /api/approvals/{id} body ------------------------------------------------------------

_BODY_FIELDS = ("status", "formData", "rememberChoice", "reason", "message")


def validate_approval_body(body: Any) -> dict[str, Any]:
    """The reference's rules, strictly: returns {status, formData?, rememberChoice} for approved,
    {status, reason, message} for denied/cancelled (with the reference's defaults), or raises
    RequestError whose message and details name the field."""

    def bad(field_name: str, problem: str) -> RequestError:
        return RequestError(f"'{field_name}': {problem}", details={"field": field_name})

    if not isinstance(body, dict):
        raise bad("(body)", "must be a JSON object")
    for key in body:
        if key not in _BODY_FIELDS:
            raise bad(key, "unknown field")
    status = body.get("status")
    if status not in STATUSES:
        raise bad("status", f"must be one of {', '.join(STATUSES)}")
    if "formData" in body and not isinstance(body["formData"], dict):
        raise bad("formData", "must be an object")
    if "rememberChoice" in body and not isinstance(body["rememberChoice"], bool):
        raise bad("rememberChoice", "must be a boolean")
    if "reason" in body and body["reason"] not in REASONS:
        raise bad("reason", f"must be one of {', '.join(REASONS)}")
    if "message" in body and not isinstance(body["message"], str):
        raise bad("message", "must be a string")

    if status == "approved":
        for key in ("reason", "message"):
            if key in body:
                raise bad(key, "is only allowed when status is denied or cancelled")
        out: dict[str, Any] = {"status": status, "rememberChoice": body.get("rememberChoice", False)}
        if "formData" in body:
            out["formData"] = body["formData"]
        return out

    for key in ("formData", "rememberChoice"):
        if key in body:
            raise bad(key, "is only allowed when status is approved")
    reason = body.get("reason")
    if status == "denied":
        if reason in CANCEL_REASONS:
            raise bad("reason", f"'{reason}' is not a reason to deny (use status cancelled)")
        return {"status": status, "reason": reason or "user_denied",
                "message": body.get("message", "User denied the request via API")}
    if reason in DENY_REASONS:
        raise bad("reason", f"'{reason}' is not a reason to cancel (use status denied)")
    return {"status": status, "reason": reason or "user_cancelled",
            "message": body.get("message", "User cancelled the request via API")}
