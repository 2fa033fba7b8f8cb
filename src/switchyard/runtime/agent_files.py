"""The one decision on whether agent files can be served, for `switchyard validate` and
`switchyard serve` alike: the YAML, the schema, the environment variables, the model
(provider, key, URL: `llm.factory.resolve_llm`, what the agent itself checks at start) and
unique ids. Every problem of every file is reported in one pass.

An unset environment variable is an error when serving; `validate` reports it as a warning
(the file may well be fine where it will run) unless `strict`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from switchyard.config.folder import AgentFile, check_unique_ids, scan_folder
from switchyard.config.loader import LoadedAgent, load_agent, load_agent_text, under
from switchyard.config.schema import AgentCardConfig
from switchyard.errors import ConfigError


@dataclass
class FileReport:
    source: str                                   # the file as the user named it
    loaded: LoadedAgent | None = None             # None when the file cannot be served
    errors: list[dict[str, Any]] = field(default_factory=list)   # {file, path, message}
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.loaded is not None


@dataclass
class AgentsReport:
    files: list[FileReport]
    errors: list[dict[str, Any]] = field(default_factory=list)   # across files (id clashes)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and all(f.ok for f in self.files)

    @property
    def agents(self) -> list[LoadedAgent]:
        return [f.loaded for f in self.files if f.loaded is not None]

    def all_errors(self) -> list[dict[str, Any]]:
        return [e for f in self.files for e in f.errors] + self.errors

    def error(self) -> ConfigError:
        issues = self.all_errors()
        bad = sum(1 for f in self.files if f.errors)
        return ConfigError(f"{len(issues)} problem{'s' if len(issues) != 1 else ''} in "
                           f"{bad or len(self.files)} agent file{'s' if (bad or len(self.files)) != 1 else ''}",
                           issues=issues)


def check_file(entry: AgentFile | str | None, *, env: Mapping[str, str] | None = None,
               strict: bool = True, text: str | None = None) -> FileReport:
    """Everything wrong with one agent file (None: the bundled default agent). With `text`,
    that YAML is checked as if it were the file's content (a configuration posted over the
    API, before it is written)."""
    env = os.environ if env is None else env
    if not isinstance(entry, AgentFile):
        entry = AgentFile(entry) if entry is not None else None   # type: ignore[arg-type]
    source = str(entry.path) if entry is not None else "default-agent.yml (bundled)"
    report = FileReport(source)
    try:
        if text is not None and entry is not None:
            where = entry.path.resolve()
            loaded = load_agent_text(text, source=source, agent_dir=str(where.parent), resolved=str(where),
                                     id_path=entry.path, env=env, log_warnings=False, allow_unset=True,
                                     agent_id=entry.registry_id)
        else:
            loaded = load_agent(entry.path if entry else None, env=env, log_warnings=False,
                                allow_unset=True, agent_id=entry.registry_id if entry else None)
    except ConfigError as exc:
        _add_unset(report, getattr(exc, "unset", []), strict)
        report.errors.extend([{"file": source, **i} for i in exc.issues] or
                             [{"file": source, "path": "", "message": exc.message}])
        return report
    report.warnings = list(loaded.warnings)
    unset_paths = {u["path"] for u in loaded.unset}
    _add_unset(report, loaded.unset, strict)
    from switchyard.llm.factory import resolve_llm
    try:
        resolve_llm(loaded.config.llm, env)
    except ConfigError as exc:
        report.errors.extend({"file": source, **i} for i in exc.issues
                             if not under(i.get("path", ""), unset_paths))
    if entry is not None and (entry.name or entry.description):
        _card_from_registry(loaded, entry)
    if not report.errors:
        report.loaded = loaded
    return report


def _add_unset(report: FileReport, unset: list[dict[str, Any]], strict: bool) -> None:
    if strict:
        report.errors.extend(unset)
    else:
        report.warnings.extend(f"{u['path']}: {u['message']} (an error when serving)" for u in unset)


def _card_from_registry(loaded: LoadedAgent, entry: AgentFile) -> None:
    """A registry's name and description, where the file gives none (listing and routing)."""
    card = loaded.config.agentCard or AgentCardConfig()
    card.name = card.name or entry.name
    card.description = card.description or entry.description
    loaded.config.agentCard = card


def check_agents(files: list[str] | None = None, folder: str | None = None, *,
                 env: Mapping[str, str] | None = None, strict: bool = True) -> AgentsReport:
    """Every agent of `files` and `folder` (neither: the bundled default agent), checked."""
    entries: list[AgentFile | None] = [AgentFile(Path(f)) for f in files or []]
    notes: list[str] = []
    if folder is not None:
        scan = scan_folder(folder)
        entries.extend(scan.files)
        if scan.not_listed:
            notes.append(f"{scan.registry} lists the agents to serve; not listed there: "
                         + ", ".join(str(p) for p in scan.not_listed))
    report = AgentsReport([check_file(e, env=env, strict=strict) for e in entries or [None]], notes=notes)
    try:
        check_unique_ids(report.agents)
    except ConfigError as exc:
        report.errors.extend(exc.issues)
    return report


def load_agents(files: list[str] | None = None, folder: str | None = None, *,
                env: Mapping[str, str] | None = None) -> tuple[list[LoadedAgent], list[str]]:
    """The agents to serve and notes for the operator. ConfigError listing every problem
    of every file when any cannot be served."""
    report = check_agents(files, folder, env=env, strict=True)
    if not report.ok:
        raise report.error()
    return report.agents, report.notes
