"""The `agent-spawner` family: spawn_agent runs a task on another agent this server hosts.

The sub-agent runs in a new session of its own, owned by the caller's owner (so the
caller can read it, nobody else can), and its run shows in the parent session as
`service:event` events of service `agent-spawner`: `started`, `progress` (each tool call of
the sub-agent, and each approval it waits for), `completed` or `failed`. Limits:
`allowedAgents` (only these ids; omitted: any hosted agent but the spawning one itself),
`maxConcurrentAgents` per spawning agent, `defaultTimeout` (ms, 0 = none; on expiry the
sub-run is cancelled). A sub-agent listed in `autoApproveAgents` has the calls its own
policies would ask about approved for this run (its denials still hold); any other sub-agent's
approvals wait for a person (GET /api/approvals?agentId=<sub-agent>).
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from pydantic import Field

from switchyard.config.tools_schema import AgentSpawnerConfig
from switchyard.errors import SwitchyardError, ToolError
from switchyard.events import (ApprovalRequestEvent, Event, ResponseEvent, RunCompleteEvent, ServiceEvent,
                               ToolCallEvent)
from switchyard.tools.builtin.base import BuiltinTool, ToolInput
from switchyard.tools.context import ToolCallContext

FAMILY = "agent-spawner"
SERVICE = "agent-spawner"
FindAgent = Callable[[str], Any]      # agent id -> a hosted runtime Agent (raises when unknown)


class SpawnAgentInput(ToolInput):
    task: str = Field(min_length=1, description="Short description of the task (shown in progress events)")
    instructions: str = Field(min_length=1, description="Detailed instructions for the sub-agent")
    agentId: str | None = Field(None, min_length=1, description="Which hosted agent runs the task")


class AgentSpawner:
    def __init__(self, config: AgentSpawnerConfig, own_id: str, find_agent: Callable[[], FindAgent | None],
                 publish: Callable[[Event], Awaitable[None]]) -> None:
        self.config = config
        self.own_id = own_id
        self.find_agent = find_agent
        self.publish = publish
        self.running = 0

    def tools(self) -> list[BuiltinTool[Any]]:
        allowed = ", ".join(self.config.allowedAgents or []) or "any other hosted agent"
        return [BuiltinTool("spawn_agent", f"Delegate a task to a sub-agent ({allowed}) and wait for its "
                            "answer. Give a short task and detailed instructions.", SpawnAgentInput,
                            self.spawn_agent, family=FAMILY)]

    def _target(self, requested: str | None) -> str:
        allowed = self.config.allowedAgents
        agent_id = requested or (allowed[0] if allowed else None)
        if agent_id is None:
            raise ToolError("agentId is required (no allowedAgents to default to)")
        if allowed is not None and agent_id not in allowed:
            raise ToolError(f"agent '{agent_id}' is not in allowedAgents ({', '.join(allowed)})")
        if agent_id == self.own_id:
            raise ToolError("an agent cannot spawn itself")
        return agent_id

    async def spawn_agent(self, args: SpawnAgentInput, context: ToolCallContext) -> dict[str, Any]:
        if not self.config.allowSpawning:
            raise ToolError("spawning is disabled (allowSpawning: false)")
        agent_id = self._target(args.agentId)
        find = self.find_agent()
        if find is None:
            raise ToolError("no other agents are hosted here")
        try:
            agent = find(agent_id)
        except SwitchyardError as exc:
            raise ToolError(exc.message) from None
        if self.running >= self.config.maxConcurrentAgents:
            raise ToolError(f"{self.running} sub-agents are already running (maxConcurrentAgents)")
        self.running += 1
        try:
            return await self._run(agent, agent_id, args, context)
        finally:
            self.running -= 1

    async def _run(self, agent: Any, agent_id: str, args: SpawnAgentInput, context: ToolCallContext) -> dict[str, Any]:
        run = await agent.start_run(None, args.instructions, owner=context.owner)
        about = {"task": args.task, "agentId": agent_id, "sessionId": run.session_id}
        await self._tell(context, "started", about)
        timeout = self.config.defaultTimeout / 1000 or None
        try:
            answer = await asyncio.wait_for(self._follow(agent, agent_id, run, about, context), timeout)
        except asyncio.TimeoutError:
            await agent.cancel(run.session_id)
            await self._tell(context, "failed", {**about, "error": "timed out"})
            raise ToolError(f"sub-agent '{agent_id}' did not finish within {self.config.defaultTimeout} ms") from None
        except asyncio.CancelledError:
            await asyncio.shield(agent.cancel(run.session_id))
            raise
        success = answer is not None
        await self._tell(context, "completed" if success else "failed", {**about, "success": success})
        if not success:
            raise ToolError(f"sub-agent '{agent_id}' ended without an answer")
        return {"success": True, "agentId": agent_id, "sessionId": run.session_id, "response": answer}

    async def _follow(self, agent: Any, agent_id: str, run: Any, about: dict[str, Any],
                      context: ToolCallContext) -> str | None:
        answer: str | None = None
        auto = agent_id in (self.config.autoApproveAgents or [])
        async for event in run.follow():
            if isinstance(event, ToolCallEvent):
                await self._tell(context, "progress", {**about, "toolName": event.tool_name})
            elif isinstance(event, ApprovalRequestEvent):
                if auto:
                    try:
                        agent.approvals.resolve(event.approval_id, "approved")
                    except SwitchyardError:   # answered meanwhile (or timed out): nothing to do
                        pass
                else:
                    await self._tell(context, "progress", {**about, "approvalId": event.approval_id,
                                                           "waitingFor": "approval", "toolName": event.tool_name})
            elif isinstance(event, ResponseEvent):
                answer = event.content
            elif isinstance(event, RunCompleteEvent):
                break
        return answer

    async def _tell(self, context: ToolCallContext, what: str, data: dict[str, Any]) -> None:
        if context.session_id:
            await self.publish(ServiceEvent(context.session_id, SERVICE, what, context.call_id, data))
