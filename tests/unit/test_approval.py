"""Tool-call approval: policy gates, manual approval through pending requests, timeouts,
remembered choices, cancellation, and the POST /api/approvals/{id} body rules."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import pytest

from switchyard.config.schema import PermissionsConfig
from switchyard.errors import NotFoundError, RequestError
from switchyard.events import Event
from switchyard.events import ApprovalRequestEvent, ApprovalResponseEvent

APPROVAL_REQUEST, APPROVAL_RESPONSE = ApprovalRequestEvent.name, ApprovalResponseEvent.name
from switchyard.server.wire import encode
from switchyard.tools.approval import ApprovalCoordinator, validate_approval_body


class Events:
    def __init__(self) -> None:
        self.items: list[tuple[str, str, dict]] = []
        self.arrived = asyncio.Event()

    async def __call__(self, event: Event) -> None:
        # As a client reads it (the wire form), without the event's name.
        data = {k: v for k, v in encode(event).items() if k != "name"}
        self.items.append((event.session_id, event.name, data))
        self.arrived.set()

    def named(self, name: str) -> list[dict]:
        return [data for _, n, data in self.items if n == name]


def coordinator(mode: str = "manual", timeout: int | None = None, allow=(), deny=()):
    events = Events()
    permissions = PermissionsConfig(mode=mode, timeout=timeout,
                                    toolPolicies={"alwaysAllow": list(allow), "alwaysDeny": list(deny)})
    return ApprovalCoordinator(permissions, events), events


async def wait_pending(coord: ApprovalCoordinator, session_id: str = "s1", count: int = 1) -> list[dict]:
    for _ in range(200):
        pending = coord.pending(session_id)
        if len(pending) >= count:
            return pending
        await asyncio.sleep(0.005)
    raise AssertionError("no pending approval appeared")


# --- policy gates ----------------------------------------------------------------------------

async def test_auto_approve_and_auto_deny_do_not_ask():
    coord, events = coordinator("auto-approve")
    assert (await coord.authorize("s1", "add", "c1", {})).status == "approved"
    coord, events = coordinator("auto-deny")
    outcome = await coord.authorize("s1", "add", "c1", {})
    assert outcome.status == "denied" and outcome.reason == "system_denied"
    assert "auto-deny" in outcome.message
    assert events.items == []


async def test_always_deny_wins_over_always_allow_and_mode():
    coord, events = coordinator("auto-approve", allow=["rm"], deny=["rm"])
    outcome = await coord.authorize("s1", "rm", "c1", {})
    assert outcome.status == "denied" and "alwaysDeny" in outcome.message
    assert events.items == []


async def test_always_allow_skips_manual_approval():
    coord, events = coordinator("manual", allow=["get_weather"])
    assert (await coord.authorize("s1", "get_weather", "c1", {"city": "Oslo"})).approved
    assert coord.pending() == [] and events.items == []


async def test_always_allow_overrides_auto_deny():
    coord, _ = coordinator("auto-deny", allow=["get_weather"])
    assert (await coord.authorize("s1", "get_weather", "c1", {})).approved
    assert not (await coord.authorize("s1", "add", "c2", {})).approved


# --- manual approval -------------------------------------------------------------------------

async def test_manual_approve_publishes_request_and_response():
    coord, events = coordinator("manual", timeout=5000)
    task = asyncio.create_task(coord.authorize("s1", "add", "call-1", {"a": 1, "b": 2}))
    [pending] = await wait_pending(coord)

    assert pending["type"] == "tool_approval" and pending["sessionId"] == "s1"
    assert pending["timeout"] == 5000
    assert pending["metadata"] == {"toolName": "add", "toolCallId": "call-1", "args": {"a": 1, "b": 2}}
    uuid.UUID(pending["approvalId"])
    datetime.fromisoformat(pending["timestamp"])
    assert events.named(APPROVAL_REQUEST) == [pending]
    assert coord.pending("other-session") == []

    coord.resolve(pending["approvalId"], "approved", form_data={"x": 1})
    outcome = await task
    assert outcome.status == "approved" and outcome.form_data == {"x": 1}
    assert outcome.approval_id == pending["approvalId"]
    assert events.named(APPROVAL_RESPONSE) == [
        {"approvalId": pending["approvalId"], "status": "approved", "sessionId": "s1"}]
    assert coord.pending("s1") == []


async def test_manual_deny_carries_reason_and_message():
    coord, events = coordinator("manual")
    task = asyncio.create_task(coord.authorize("s1", "add", "c1", {}))
    [pending] = await wait_pending(coord)
    coord.resolve(pending["approvalId"], "denied", message="not today")
    outcome = await task
    assert (outcome.status, outcome.reason, outcome.message) == ("denied", "user_denied", "not today")
    [response] = events.named(APPROVAL_RESPONSE)
    assert response["reason"] == "user_denied" and response["message"] == "not today"


async def test_remember_approves_the_tool_for_the_rest_of_the_session():
    coord, events = coordinator("manual")
    first = asyncio.create_task(coord.authorize("s1", "add", "c1", {}))
    second = asyncio.create_task(coord.authorize("s1", "add", "c2", {}))
    other_tool = asyncio.create_task(coord.authorize("s1", "echo", "c3", {}))
    pending = await wait_pending(coord, count=3)
    add_ids = [p["approvalId"] for p in pending if p["metadata"]["toolName"] == "add"]

    coord.resolve(add_ids[0], "approved", remember=True)
    assert (await first).approved
    assert (await second).approved, "a waiting call for the same tool is covered too"
    assert not other_tool.done()
    # Later calls of that tool in that session do not ask; other sessions still do.
    assert (await coord.authorize("s1", "add", "c4", {})).approved
    assert coord.remembered("s1") == {"add"}
    other_session = asyncio.create_task(coord.authorize("s2", "add", "c5", {}))
    assert len(await wait_pending(coord, "s2")) == 1

    assert coord.cancel_session("s1") == 1
    outcome = await other_tool
    assert (outcome.status, outcome.reason) == ("cancelled", "system_cancelled")
    coord.cancel_session("s2")
    await other_session


async def test_timeout_resolves_as_cancelled():
    coord, events = coordinator("manual", timeout=100)
    outcome = await coord.authorize("s1", "add", "c1", {})
    assert (outcome.status, outcome.reason) == ("cancelled", "timeout")
    [response] = events.named(APPROVAL_RESPONSE)
    assert response["reason"] == "timeout" and response["timeoutMs"] == 100
    assert coord.pending() == []


async def test_no_timeout_waits_until_resolved():
    coord, _ = coordinator("manual", timeout=None)
    task = asyncio.create_task(coord.authorize("s1", "add", "c1", {}))
    [pending] = await wait_pending(coord)
    assert pending["timeout"] is None
    await asyncio.sleep(0.2)
    assert not task.done()
    coord.resolve(pending["approvalId"], "cancelled")
    outcome = await task
    assert (outcome.status, outcome.reason) == ("cancelled", "user_cancelled")


async def test_resolve_unknown_or_settled_approval_is_not_found():
    coord, _ = coordinator("manual")
    with pytest.raises(NotFoundError) as info:
        coord.resolve("nope", "approved")
    assert info.value.code == "approval_not_found" and info.value.status == 404

    task = asyncio.create_task(coord.authorize("s1", "add", "c1", {}))
    [pending] = await wait_pending(coord)
    coord.resolve(pending["approvalId"], "approved")
    await task
    with pytest.raises(NotFoundError):
        coord.resolve(pending["approvalId"], "denied")


async def test_cancelled_waiter_leaves_no_pending_approval():
    coord, _ = coordinator("manual")
    task = asyncio.create_task(coord.authorize("s1", "add", "c1", {}))
    await wait_pending(coord)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert coord.pending() == []


async def test_a_validated_body_resolves_as_the_route_does():
    # What POST /api/approvals/{id} does (server/api/approvals.py): validate, then resolve.
    coord, _ = coordinator("manual")
    task = asyncio.create_task(coord.authorize("s1", "add", "c1", {}))
    [pending] = await wait_pending(coord)
    with pytest.raises(RequestError):
        validate_approval_body({"status": "approved", "reason": "user_denied"})
    data = validate_approval_body({"status": "approved", "rememberChoice": True})
    coord.resolve(pending["approvalId"], data["status"], remember=data["rememberChoice"])
    assert (await task).approved
    assert coord.remembered("s1") == {"add"}


async def test_forget_session_drops_its_remembered_choices_and_pending_approvals():
    coord, _ = coordinator("manual")
    task = asyncio.create_task(coord.authorize("s1", "add", "c1", {}))
    [pending] = await wait_pending(coord)
    coord.resolve(pending["approvalId"], "approved", remember=True)
    assert (await task).approved
    waiting = asyncio.create_task(coord.authorize("s1", "echo", "c2", {}))
    await wait_pending(coord)

    coord.forget_session("s1")
    assert coord.remembered("s1") == set()
    outcome = await waiting
    assert (outcome.status, outcome.reason) == ("cancelled", "system_cancelled")
    # A later session with the same id is asked again.
    again = asyncio.create_task(coord.authorize("s1", "add", "c3", {}))
    assert len(await wait_pending(coord)) == 1
    again.cancel()
    with pytest.raises(asyncio.CancelledError):
        await again


# --- body rules ------------------------------------------------------------------------------

@pytest.mark.parametrize("body, expected", [
    ({"status": "approved"}, {"status": "approved", "rememberChoice": False}),
    ({"status": "approved", "formData": {"a": 1}, "rememberChoice": True},
     {"status": "approved", "formData": {"a": 1}, "rememberChoice": True}),
    ({"status": "denied"},
     {"status": "denied", "reason": "user_denied", "message": "User denied the request via API"}),
    ({"status": "denied", "reason": "validation_failed", "message": "bad"},
     {"status": "denied", "reason": "validation_failed", "message": "bad"}),
    ({"status": "cancelled"},
     {"status": "cancelled", "reason": "user_cancelled", "message": "User cancelled the request via API"}),
    ({"status": "cancelled", "reason": "timeout"},
     {"status": "cancelled", "reason": "timeout", "message": "User cancelled the request via API"}),
])
def test_valid_bodies_are_normalised(body, expected):
    assert validate_approval_body(body) == expected


@pytest.mark.parametrize("body, field", [
    ([], "(body)"),
    ({}, "status"),
    ({"status": "maybe"}, "status"),
    ({"status": "approved", "extra": 1}, "extra"),
    ({"status": "approved", "reason": "user_denied"}, "reason"),
    ({"status": "approved", "message": "hi"}, "message"),
    ({"status": "denied", "formData": {}}, "formData"),
    ({"status": "cancelled", "rememberChoice": True}, "rememberChoice"),
    ({"status": "approved", "rememberChoice": "yes"}, "rememberChoice"),
    ({"status": "approved", "formData": "x"}, "formData"),
    ({"status": "denied", "reason": "no_reason"}, "reason"),
    ({"status": "denied", "message": 5}, "message"),
    *[({"status": "denied", "reason": r}, "reason")
      for r in ("user_cancelled", "system_cancelled", "timeout")],
    *[({"status": "cancelled", "reason": r}, "reason")
      for r in ("user_denied", "system_denied", "validation_failed", "elicitation_disabled")],
])
def test_invalid_bodies_name_the_field(body, field):
    with pytest.raises(RequestError) as info:
        validate_approval_body(body)
    assert info.value.details == {"field": field}
    assert f"'{field}'" in info.value.message
    assert info.value.status == 400


# --- argument-aware policies (tools/policy.py) --------------------------------------------------

class RecordingPolicy:
    def __init__(self, decide_with):
        self.decide_with, self.calls = decide_with, []

    def evaluate(self, tool_name, arguments, context):
        self.calls.append((tool_name, arguments, context.call_id, context.session_id))
        return self.decide_with(tool_name, arguments)


async def test_a_policy_ask_goes_to_the_approval_flow_even_in_auto_approve():
    from switchyard.tools.policy import PolicyDecision
    risky = RecordingPolicy(lambda name, args: PolicyDecision.ask() if "-rf" in args.get("cmd", "") else None)
    coord, events = coordinator("auto-approve")
    coord.policies.append(risky)
    assert (await coord.authorize("s1", "shell", "c1", {"cmd": "ls"})).approved
    task = asyncio.create_task(coord.authorize("s1", "shell", "c2", {"cmd": "rm -rf /tmp/x"}))
    [pending] = await wait_pending(coord)
    assert pending["metadata"] == {"toolName": "shell", "toolCallId": "c2", "args": {"cmd": "rm -rf /tmp/x"}}
    coord.resolve(pending["approvalId"], "denied")
    outcome = await task
    assert outcome.status == "denied" and outcome.reason == "user_denied"
    assert [name for _, name, _ in events.items] == [APPROVAL_REQUEST, APPROVAL_RESPONSE]
    assert risky.calls == [("shell", {"cmd": "ls"}, "c1", "s1"), ("shell", {"cmd": "rm -rf /tmp/x"}, "c2", "s1")]


async def test_the_first_deny_wins_and_later_policies_are_not_asked():
    from switchyard.tools.policy import PolicyDecision
    first = RecordingPolicy(lambda name, args: PolicyDecision.deny(f"no {args['path']}"))
    second = RecordingPolicy(lambda name, args: PolicyDecision.deny("never seen"))
    coord = ApprovalCoordinator(PermissionsConfig(mode="auto-approve"), Events(), policies=[first, second])
    outcome = await coord.authorize("s1", "read", "c1", {"path": "/etc/shadow"})
    assert (outcome.status, outcome.reason, outcome.message) == ("denied", "system_denied", "no /etc/shadow")
    assert len(first.calls) == 1 and second.calls == []
    # The config's alwaysDeny comes first: it wins over any added policy.
    coord = coordinator("auto-approve", deny=["read"])[0]
    coord.policies.append(second)
    assert "alwaysDeny" in (await coord.authorize("s1", "read", "c1", {"path": "x"})).message
    assert second.calls == []


async def test_policies_compose_async_and_abstaining():
    from switchyard.tools.context import ToolCallContext
    from switchyard.tools.policy import PolicyDecision, decide

    class AsyncAllow:
        async def evaluate(self, tool_name, arguments, context):
            await asyncio.sleep(0)
            return PolicyDecision.allow()

    context = ToolCallContext(call_id="c1")
    abstain = RecordingPolicy(lambda name, args: None)
    assert (await decide([], "t", {}, context)).action == "allow"
    assert (await decide([abstain], "t", {}, context)).action == "allow"
    asked = await decide([AsyncAllow(), RecordingPolicy(lambda n, a: PolicyDecision.ask("check")), abstain],
                         "t", {}, context)
    assert (asked.action, asked.reason, asked.policy) == ("ask", "check", "RecordingPolicy")
