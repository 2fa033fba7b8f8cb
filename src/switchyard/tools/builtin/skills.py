"""invoke_skill and read_skill (builtin-tools): the agent's skills, the same catalog as
GET /api/skills (runtime/skills.py: `SKILL.md` folders in the agent's folder), as the
reference's tools use its skill manager.

A skill is found by its id (the folder's name) or its display name, the folders read afresh on
every call. invoke_skill returns the whole SKILL.md for the model to follow (with
`taskContext` before it); read_skill returns it without invoking, or, with `path`, a file of
the skill's own folder — confined to that folder by the path sandbox of filesystem-tools
(symlinks followed, `..` and absolute paths refused). As in the reference, an unknown skill or
file is a result the model reads (`error`, `availableSkills` / `_hint`), not a failed call.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Protocol

from pydantic import Field

from switchyard.tools.builtin.base import ToolInput
from switchyard.tools.context import ToolCallContext
from switchyard.tools.sandbox import PathSandbox, SandboxViolation

MAX_SKILL_FILE_BYTES = 512 * 1024


class SkillSource(Protocol):
    """What the tools need of runtime/skills.py's SkillCatalog (passed in: tools do not import
    the runtime)."""

    def list(self) -> list[dict[str, Any]]: ...

    def find(self, wanted: str) -> tuple[dict[str, Any], Path] | None: ...


class InvokeSkillInput(ToolInput):
    skill: str = Field(min_length=1, description='The name of the skill to invoke (its id, e.g. "code-review", '
                                                 "or its display name)")
    args: dict[str, str] | None = Field(None, description="Optional arguments to pass to the skill")
    taskContext: str | None = Field(None, description="Context about what task this skill should accomplish")


class ReadSkillInput(ToolInput):
    skill: str = Field(min_length=1, description="The skill's id or display name")
    path: str | None = Field(None, min_length=1, description="A file of the skill's folder to read instead")


class SkillTools:
    def __init__(self, catalog: SkillSource) -> None:
        self.catalog = catalog

    def names(self) -> list[str]:
        """The skills' ids now (the tools are offered when there is at least one)."""
        return [skill["id"] for skill in self.catalog.list()]

    async def invoke_skill(self, args: InvokeSkillInput, context: ToolCallContext) -> dict[str, Any]:
        found = await asyncio.to_thread(self.catalog.find, args.skill)
        if found is None:
            listed = await asyncio.to_thread(self.catalog.list)
            return {"error": f"Skill '{args.skill}' not found or not available for model invocation. "
                             "Use a skill from the available list.",
                    "availableSkills": [skill["displayName"] for skill in listed]}
        skill, _ = found
        text = skill["instructions"]
        if args.taskContext:
            text = f"## Task Context\n{args.taskContext}\n\n## Skill Instructions\n{text}"
        return {"skill": skill["id"], "content": text,
                "instructions": "Follow the instructions in the skill content above to complete the task."}

    async def read_skill(self, args: ReadSkillInput, context: ToolCallContext) -> dict[str, Any]:
        found = await asyncio.to_thread(self.catalog.find, args.skill)
        if args.path is None:
            if found is None:
                return {"success": False, "error": f"Skill not found: {args.skill}",
                        "_hint": "Use a skill from the available skills list."}
            skill, _ = found
            return {"success": True, "skill": skill["id"], "displayName": skill["displayName"],
                    "content": skill["instructions"]}
        content = None if found is None else await asyncio.to_thread(_read_in, found[1].parent, args.path)
        if content is None:
            return {"success": False, "error": f"Skill file not found: {args.skill}/{args.path}",
                    "_hint": "Use a valid file path from the skill bundle."}
        return {"success": True, "skill": args.skill, "path": args.path, "content": content}


def _read_in(folder: Path, path: str) -> str | None:
    """The text of `path` in the skill's folder, or None when it is not a file there."""
    if path.startswith("/") or ".." in path.replace("\\", "/").split("/"):
        return None
    sandbox = PathSandbox.build(folder, ["."], max_file_size=MAX_SKILL_FILE_BYTES)
    try:
        _, fd = sandbox.open_file(path)
    except (OSError, SandboxViolation):
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read(MAX_SKILL_FILE_BYTES).decode("utf-8", errors="replace")
