"""Skills: folders holding a `SKILL.md`, found in the agent's folder as the reference finds them
in its workspace (GET /api/skills).

    <agent folder>/skills/<id>/SKILL.md
    <agent folder>/.agents/skills/<id>/SKILL.md
    <agent folder>/.dexto/skills/<id>/SKILL.md

A skill's `id` is its folder's name (the first folder wins when two share a name, compared
without case), its `displayName` the first `# ` heading of SKILL.md (else the id), its
`description` the front matter's `description:`, and its `instructions` the whole file.
Unlike the reference, the server user's home folders (~/.agents/skills, ~/.dexto/skills) are
not read: what an agent offers comes from its own folder, not from whoever runs the server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SKILL_FOLDERS = ("skills", ".agents/skills", ".dexto/skills")
SKILL_FILE = "SKILL.md"
MAX_SKILL_BYTES = 512 * 1024


def _read(path: Path) -> str:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        return handle.read(MAX_SKILL_BYTES)


def first_heading(markdown: str) -> str | None:
    for line in markdown.split("\n"):
        if line.startswith("# ") and line[2:].strip():
            return line[2:].strip()
    return None


def front_matter_description(markdown: str) -> str | None:
    text = markdown.replace("\r\n", "\n")
    if not text.startswith("---\n"):
        return None
    end = text.find("\n---", 4)
    if end < 0:
        return None
    for line in text[4:end].split("\n"):
        if line.strip().startswith("description:"):
            value = line.split(":", 1)[1].strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            return value or None
    return None


class SkillCatalog:
    """The skills under `root` (an agent's folder), read afresh on each call (files change)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _files(self) -> list[tuple[str, Path]]:
        found: list[tuple[str, Path]] = []
        seen: set[str] = set()
        for folder in SKILL_FOLDERS:
            base = self.root / folder
            try:
                children = sorted(base.iterdir(), key=lambda p: p.name)
            except OSError:
                continue
            for child in children:
                skill_file = child / SKILL_FILE
                if child.name.lower() in seen or not child.is_dir() or not skill_file.is_file():
                    continue
                seen.add(child.name.lower())
                found.append((child.name, skill_file))
        return found

    def _summary(self, skill_id: str, text: str) -> dict[str, Any]:
        summary: dict[str, Any] = {"id": skill_id, "displayName": first_heading(text) or skill_id}
        description = front_matter_description(text)
        if description:
            summary["description"] = description
        return summary

    def list(self) -> list[dict[str, Any]]:
        skills = []
        for skill_id, path in self._files():
            try:
                skills.append(self._summary(skill_id, _read(path)))
            except OSError:
                continue
        return skills

    def find(self, wanted: str) -> tuple[dict[str, Any], Path] | None:
        """(the skill whose id or display name is `wanted`, with its instructions; its SKILL.md)."""
        for skill_id, path in self._files():
            try:
                text = _read(path)
            except OSError:
                continue
            summary = self._summary(skill_id, text)
            if wanted in (skill_id, summary["displayName"]):
                return {**summary, "instructions": text}, path
        return None

    def get(self, wanted: str) -> dict[str, Any] | None:
        """The skill whose id (or display name) is `wanted`, with its instructions."""
        found = self.find(wanted)
        return found[0] if found else None
