"""invoke_skill and read_skill (builtin-tools): the agent's configured prompts as skills.

A skill is one of the agent file's `prompts`: an inline prompt by its `id`, a file prompt by
its file name without extension (`namespace:name` when it has a namespace); GET
/api/prompts lists them as `config:<name>`. invoke_skill returns the skill's text (front matter removed,
`$ARGUMENTS` and `$<name>` replaced by `args`) for the model to follow; read_skill returns it
without invoking, or, with `path`, a file of the skill's own folder — confined to that folder
by the same path sandbox as filesystem-tools.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from switchyard.config.schema import FilePrompt, InlinePrompt, PromptConfig
from switchyard.errors import ToolError
from switchyard.tools.builtin.base import ToolInput
from switchyard.tools.context import ToolCallContext
from switchyard.tools.sandbox import PathSandbox

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
MAX_SKILL_BYTES = 512 * 1024


class InvokeSkillInput(ToolInput):
    skill: str = Field(min_length=1, description="The skill's name, as listed")
    args: dict[str, str] | None = Field(None, description="Arguments for the skill ($ARGUMENTS, $<name>)")
    taskContext: str | None = Field(None, description="What the skill should accomplish")


class ReadSkillInput(ToolInput):
    skill: str = Field(min_length=1, description="The skill's name, as listed")
    path: str | None = Field(None, min_length=1, description="A file of the skill's folder to read instead")


@dataclass
class Skill:
    name: str
    description: str
    text: str | None = None          # inline prompts
    file: Path | None = None         # file prompts

    def load(self) -> tuple[str, dict[str, Any]]:
        if self.file is None:
            return self.text or "", {}
        try:
            raw = self.file.read_text("utf-8")[:MAX_SKILL_BYTES]
        except OSError as exc:
            raise ToolError(f"skill '{self.name}' cannot be read: {exc.strerror}") from None
        match = _FRONT_MATTER.match(raw)
        if not match:
            return raw, {}
        try:
            meta = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError:
            meta = {}
        return raw[match.end():], meta if isinstance(meta, dict) else {}


def skills_of(prompts: list[PromptConfig], agent_dir: Path) -> dict[str, Skill]:
    found: dict[str, Skill] = {}
    for prompt in prompts:
        if isinstance(prompt, InlinePrompt):
            found[prompt.id] = Skill(prompt.id, prompt.description or prompt.title or "", text=prompt.prompt)
        elif isinstance(prompt, FilePrompt):
            path = Path(prompt.file)
            path = path if path.is_absolute() else agent_dir / path
            name = f"{prompt.namespace}:{path.stem}" if prompt.namespace else path.stem
            found[name] = Skill(name, "", file=path)
    return found


class SkillTools:
    def __init__(self, prompts: list[PromptConfig], agent_dir: Path) -> None:
        self.skills = skills_of(prompts, Path(agent_dir))

    def _get(self, name: str) -> Skill:
        skill = self.skills.get(name)
        if skill is None:
            known = ", ".join(sorted(self.skills)) or "none"
            raise ToolError(f"skill '{name}' not found (available: {known})")
        return skill

    async def invoke_skill(self, args: InvokeSkillInput, context: ToolCallContext) -> dict[str, Any]:
        skill = self._get(args.skill)
        text, _ = await asyncio.to_thread(skill.load)
        values = args.args or {}
        text = text.replace("$ARGUMENTS", " ".join(values.values()))
        for key, value in values.items():
            text = text.replace(f"${key}", value)
        if args.taskContext:
            text = f"## Task Context\n{args.taskContext}\n\n## Skill Instructions\n{text}"
        return {"skill": skill.name, "content": text,
                "instructions": "Follow the instructions in the skill content above to complete the task."}

    async def read_skill(self, args: ReadSkillInput, context: ToolCallContext) -> dict[str, Any]:
        skill = self._get(args.skill)
        if args.path is None:
            text, meta = await asyncio.to_thread(skill.load)
            return {"success": True, "skill": skill.name,
                    "displayName": str(meta.get("title") or skill.name), "content": text}
        if skill.file is None:
            raise ToolError(f"skill '{skill.name}' is inline: it has no files")
        folder = skill.file.parent
        sandbox = PathSandbox.build(folder, ["."], max_file_size=MAX_SKILL_BYTES)
        return {"success": True, "skill": skill.name, "path": args.path,
                "content": await asyncio.to_thread(_read_in, sandbox, args.path)}


def _read_in(sandbox: PathSandbox, path: str) -> str:
    try:
        _, fd = sandbox.open_file(path)
    except FileNotFoundError:
        raise ToolError(f"skill file not found: {path}") from None
    with os.fdopen(fd, "rb") as handle:
        return handle.read(sandbox.max_file_size).decode("utf-8", errors="replace")
