"""The `plan-tools` family: plan_create, plan_read, plan_update, plan_review (the reference's
names and inputs). One markdown plan per session, stored as `<basePath>/<session>/plan.md`
with its metadata (title, status, times) in `plan.json` beside it; basePath is relative to
the agent's folder (default `.dexto/plans`, as the reference's).

plan_review asks a person through the approval flow (an approval:request for tool
`plan_review` carrying the plan): approved marks the plan `approved`; denied or cancelled
comes back to the model with the person's message (their requested changes).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from pydantic import Field

from switchyard.config.tools_schema import PLAN_TOOL_NAMES, PlanToolsConfig
from switchyard.errors import ToolError
from switchyard.tools.builtin.base import BuiltinTool, ToolInput
from switchyard.tools.context import ToolCallContext
from switchyard.tools.sandbox import resolve

FAMILY = "plan-tools"
_SAFE_SESSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class PlanCreateInput(ToolInput):
    title: str = Field(min_length=1, description='Plan title (e.g. "Add user authentication")')
    content: str = Field(description="The plan in markdown; - [ ] and - [x] checkboxes track progress")


class PlanReadInput(ToolInput):
    pass


class PlanUpdateInput(ToolInput):
    content: str = Field(description="The updated plan in markdown")


class PlanReviewInput(ToolInput):
    summary: str | None = Field(None, description="A short summary shown above the plan")


class PlanTools:
    def __init__(self, config: PlanToolsConfig, agent_dir: Path, approvals: Callable[[], Any]) -> None:
        self.config = config
        self.base = resolve(config.basePath, Path(agent_dir))
        self.approvals = approvals

    def tools(self) -> list[BuiltinTool[Any]]:
        every = {
            "plan_create": BuiltinTool("plan_create", "Create the implementation plan of this session "
                                       "(markdown, with clear steps and file references).", PlanCreateInput,
                                       self.plan_create, family=FAMILY),
            "plan_read": BuiltinTool("plan_read", "Read the implementation plan of this session.",
                                     PlanReadInput, self.plan_read, family=FAMILY),
            "plan_update": BuiltinTool("plan_update", "Replace the content of this session's plan (create "
                                       "it first with plan_create).", PlanUpdateInput, self.plan_update,
                                       family=FAMILY),
            "plan_review": BuiltinTool("plan_review", "Ask the user to review the plan: they approve it or "
                                       "answer with the changes they want.", PlanReviewInput, self.plan_review,
                                       family=FAMILY),
        }
        enabled = self.config.enabledTools if self.config.enabledTools is not None else list(PLAN_TOOL_NAMES)
        return [every[name] for name in PLAN_TOOL_NAMES if name in enabled]

    def _folder(self, context: ToolCallContext) -> Path:
        session = context.session_id
        if not session:
            raise ToolError("plans belong to a session; this call has none")
        # A session id is chosen by the client: anything but a plain name becomes a digest,
        # so it can never climb out of basePath.
        name = session if _SAFE_SESSION.match(session) and session not in (".", "..") else \
            hashlib.sha256(session.encode()).hexdigest()[:32]
        return self.base / name

    def _read(self, context: ToolCallContext) -> tuple[str, dict[str, Any]]:
        folder = self._folder(context)
        try:
            return (folder / "plan.md").read_text("utf-8"), json.loads((folder / "plan.json").read_text("utf-8"))
        except FileNotFoundError:
            raise ToolError("this session has no plan yet (use plan_create)") from None

    def _write(self, context: ToolCallContext, content: str, meta: dict[str, Any]) -> str:
        folder = self._folder(context)
        folder.mkdir(parents=True, exist_ok=True)
        meta["updatedAt"] = datetime.now(timezone.utc).isoformat()
        (folder / "plan.md").write_text(content, "utf-8")
        (folder / "plan.json").write_text(json.dumps(meta), "utf-8")
        return str(folder / "plan.md")

    async def plan_create(self, args: PlanCreateInput, context: ToolCallContext) -> dict[str, Any]:
        if (self._folder(context) / "plan.md").exists():
            raise ToolError("this session already has a plan (use plan_update)")
        meta = {"title": args.title, "status": "draft", "createdAt": datetime.now(timezone.utc).isoformat()}
        path = await asyncio.to_thread(self._write, context, args.content, meta)
        return {"success": True, "path": path, "status": "draft", "title": args.title}

    async def plan_read(self, args: PlanReadInput, context: ToolCallContext) -> dict[str, Any]:
        content, meta = await asyncio.to_thread(self._read, context)
        return {"exists": True, "content": content, "status": meta["status"], "title": meta["title"],
                "path": str(self._folder(context) / "plan.md"), "updatedAt": meta.get("updatedAt")}

    async def plan_update(self, args: PlanUpdateInput, context: ToolCallContext) -> dict[str, Any]:
        _, meta = await asyncio.to_thread(self._read, context)
        path = await asyncio.to_thread(self._write, context, args.content, meta)
        return {"success": True, "path": path, "status": meta["status"]}

    async def plan_review(self, args: PlanReviewInput, context: ToolCallContext) -> dict[str, Any]:
        content, meta = await asyncio.to_thread(self._read, context)
        coordinator = self.approvals()
        if coordinator is None or context.session_id is None:
            raise ToolError("plan_review needs a session (no one could answer)")
        request = {"title": meta["title"], "content": content}
        if args.summary:
            request["summary"] = args.summary
        outcome = await coordinator.request_input(context.session_id, "plan_review", context.call_id, request)
        if not outcome.approved:
            return {"approved": False, "planStatus": meta["status"],
                    "message": f"The user did not approve the plan ({outcome.reason}): {outcome.message}"}
        meta["status"] = "approved"
        await asyncio.to_thread(self._write, context, content, meta)
        return {"approved": True, "planStatus": "approved",
                "message": "Plan approved. You may now proceed with implementation."}
