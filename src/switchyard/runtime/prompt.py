"""Build the system prompt from the agent's contributors, ordered by priority."""

from __future__ import annotations

import datetime as dt
import logging
import os
import platform
from pathlib import Path

from switchyard.config.schema import (AgentConfig, DynamicContributor, FileContributor,
                                      StaticContributor, SystemPromptConfig)
from switchyard.errors import ConfigError

log = logging.getLogger("switchyard.prompt")


def _file_section(contributor: FileContributor, agent_dir: str) -> str:
    options = contributor.options
    parts = []
    for name in contributor.files:
        path = Path(name) if os.path.isabs(name) else Path(agent_dir) / name
        try:
            size = path.stat().st_size
            if size > options.maxFileSize:
                raise OSError(f"{size} bytes is over maxFileSize {options.maxFileSize}")
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            if options.errorHandling == "error":
                raise ConfigError(f"systemPrompt contributor {contributor.id!r}: cannot read {path}: {exc}") from None
            log.warning("system prompt file %s skipped: %s", path, exc)
            continue
        if options.includeFilenames:
            text = f"## {path.name}\n\n{text}"
        parts.append(text)
    return options.separator.join(parts)


# Dynamic sources whose text changes while the agent runs: rendered again for every turn
# (runtime/system_prompt.py), as the reference does; `env` is rendered once, at start.
PER_TURN_SOURCES = ("date", "resources")


def date_section() -> str:
    now = dt.datetime.now().astimezone()
    return f"Current date and time: {now.strftime('%Y-%m-%d %H:%M %Z')}"


def _dynamic_section(contributor: DynamicContributor) -> str:
    if contributor.source == "date":
        return date_section()
    if contributor.source == "env":
        return (f"Environment: {platform.system()} {platform.release()}, "
                f"working directory {os.getcwd()}")
    return ""  # `resources`: rendered per turn from the agent's resources (runtime/resource_prompt.py)


def per_turn_contributors(config: AgentConfig) -> list[DynamicContributor]:
    """The agent file's enabled dynamic contributors that are rendered again for each turn."""
    prompt = config.systemPrompt
    if not isinstance(prompt, SystemPromptConfig):
        return []
    return [c for c in prompt.contributors
            if isinstance(c, DynamicContributor) and c.enabled and c.source in PER_TURN_SOURCES]


def config_sections(config: AgentConfig, agent_dir: str) -> list[tuple[str, int, str]]:
    """The agent file's contributors as (id, priority, text), enabled and non-empty, in order."""
    prompt = config.systemPrompt
    if isinstance(prompt, str):
        return [("inline", 0, prompt)] if prompt else []
    assert isinstance(prompt, SystemPromptConfig)
    sections = []
    for contributor in sorted(prompt.contributors, key=lambda c: c.priority):
        if not contributor.enabled:
            continue
        if isinstance(contributor, StaticContributor):
            text = contributor.content
        elif isinstance(contributor, FileContributor):
            text = _file_section(contributor, agent_dir)
        else:
            text = _dynamic_section(contributor)
        if text.strip():
            sections.append((contributor.id, contributor.priority, text.strip()))
    return sections


def build_system_prompt(config: AgentConfig, agent_dir: str) -> str:
    prompt = config.systemPrompt
    if isinstance(prompt, str):
        return prompt
    return "\n\n".join(text for _, _, text in config_sections(config, agent_dir))
