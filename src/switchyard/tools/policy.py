"""Tool policies: may this call, with these arguments, run?

A `ToolPolicy` looks at one call before it runs (the tool's name as the model sees it, its
parsed arguments and the `ToolCallContext`) and answers `allow`, `deny` (with a reason that
goes back to the model as the tool's error) or `ask` (a person decides, through the approval
flow in tools/approval.py), or `None` when it has no opinion on this call.

Policies compose (`decide`): they are asked in order; the first `deny` wins at once (later
policies are not asked); otherwise any `ask` means ask; otherwise `allow`. So a policy can only
make a call stricter than the others would, never looser: a sandbox that denies a path outside
the working folder is obeyed even in auto-approve mode, and a sandbox's `ask` is asked even
when the permissions mode would approve.

`PermissionsPolicy` is the agent config's `permissions` (a toolPolicies entry may also name a
tool the older reference way, `custom--<tool>` or `internal--<tool>`): toolPolicies.alwaysDeny -> deny;
toolPolicies.alwaysAllow -> allow; mode auto-approve -> allow, auto-deny -> deny, manual -> ask.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Awaitable, Literal, Protocol, Sequence

from switchyard.config.schema import PermissionsConfig
from switchyard.tools.context import ToolCallContext

Action = Literal["allow", "deny", "ask"]


@dataclass(frozen=True)
class PolicyDecision:
    action: Action
    reason: str | None = None     # for deny: what the model is told; for ask: shown to no one yet
    policy: str | None = None     # which policy decided (for logs and tests)

    @classmethod
    def allow(cls) -> "PolicyDecision":
        return cls("allow")

    @classmethod
    def deny(cls, reason: str) -> "PolicyDecision":
        return cls("deny", reason)

    @classmethod
    def ask(cls, reason: str | None = None) -> "PolicyDecision":
        return cls("ask", reason)


class ToolPolicy(Protocol):
    """One rule about tool calls. `evaluate` may be sync or async; None means "no opinion"."""

    def evaluate(self, tool_name: str, arguments: dict[str, Any],
                 context: ToolCallContext) -> PolicyDecision | None | Awaitable[PolicyDecision | None]: ...


async def decide(policies: Sequence[ToolPolicy], tool_name: str, arguments: dict[str, Any],
                 context: ToolCallContext) -> PolicyDecision:
    """The combined decision of the policies, in order (see the module docstring). With no
    policy, or none with an opinion, the call is allowed."""
    ask: PolicyDecision | None = None
    for policy in policies:
        decision = policy.evaluate(tool_name, arguments, context)
        if inspect.isawaitable(decision):
            decision = await decision
        if decision is None:
            continue
        named = decision if decision.policy else PolicyDecision(
            decision.action, decision.reason, type(policy).__name__)
        if named.action == "deny":
            return named
        if named.action == "ask" and ask is None:
            ask = named
    return ask or PolicyDecision("allow")


class PermissionsPolicy:
    """The agent config's `permissions` block as a policy (the texts are the reference's)."""

    def __init__(self, permissions: PermissionsConfig) -> None:
        self.permissions = permissions

    def evaluate(self, tool_name: str, arguments: dict[str, Any],
                 context: ToolCallContext) -> PolicyDecision:
        policies = self.permissions.toolPolicies
        names = policy_names(tool_name)
        if names & set(policies.alwaysDeny):
            return PolicyDecision.deny(f"Tool '{tool_name}' is denied by toolPolicies.alwaysDeny")
        if names & set(policies.alwaysAllow):
            return PolicyDecision.allow()
        if self.permissions.mode == "auto-approve":
            return PolicyDecision.allow()
        if self.permissions.mode == "auto-deny":
            return PolicyDecision.deny(f"Tool '{tool_name}' denied: permissions mode is auto-deny")
        return PolicyDecision.ask()


# Older reference agent files qualify local tools in toolPolicies: `custom--read_file` for a
# tools-family tool, `internal--ask_user` for a built-in one.
_QUALIFIERS = ("custom--", "internal--")


def policy_names(tool_name: str) -> set[str]:
    """The names a toolPolicies entry may use for this tool."""
    return {tool_name, *(prefix + tool_name for prefix in _QUALIFIERS)}
