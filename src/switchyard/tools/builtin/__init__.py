"""The agent file's `tools:` families, built into tools and policies: `build_builtin_tools`.

One module per family (filesystem.py, process.py, todo.py, plan.py, spawner.py, general.py
for builtin-tools);
the sandbox rules are in tools/sandbox.py (paths) and tools/url_guard.py (network), and the
families' policies (FilesystemPolicy, CommandPolicy) join the approval flow's policies so a
call is judged with its arguments before anyone is asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from switchyard.config.tools_schema import (AgentSpawnerConfig, BuiltinToolsConfig, SchedulerToolsConfig, LifecycleToolsConfig, FilesystemToolsConfig, PlanToolsConfig,
                                            ProcessToolsConfig, TodoToolsConfig, ToolFamilyConfig)
from switchyard.events import Event
from switchyard.tools.base import Tool
from switchyard.tools.policy import ToolPolicy


@dataclass
class BuiltinDeps:
    """What the families need from their agent (the runtime passes it in)."""

    agent_dir: Path
    protected: list[Path]                                   # the server's own files
    spawn: Callable[[Any, str], Any]                        # the agent's Supervisor.spawn
    publish: Callable[[Event], Awaitable[None]]
    approvals: Callable[[], Any]                            # the ApprovalCoordinator, once started
    search_history: Any = None                              # general.HistorySearch
    agent_id: str = ""
    skills: Any = None                                      # runtime/skills.py's SkillCatalog
    find_agent: Callable[[], Any] = lambda: None            # -> (agent id -> hosted Agent), or None
    server_env: Mapping[str, str] | None = None
    resources: Callable[[], Any] | None = None               # -> runtime/resource_catalog.py's catalog


@dataclass
class BuiltinTooling:
    tools: list[Tool] = field(default_factory=list)
    policies: list[ToolPolicy] = field(default_factory=list)
    process_families: list[Any] = field(default_factory=list)
    todo_families: list[Any] = field(default_factory=list)

    def kill_processes(self) -> int:
        """Kill every background process (their process groups); returns how many ran."""
        return sum(family.kill_all() for family in self.process_families)

    async def close(self) -> None:
        """Kill the background processes and reap them (the agent's shutdown)."""
        for family in self.process_families:
            await family.close()


def build_builtin_tools(entries: list[ToolFamilyConfig], deps: BuiltinDeps) -> BuiltinTooling:
    from switchyard.tools.builtin.command_policy import CommandPolicy
    from switchyard.tools.builtin.filesystem import FilesystemPolicy, FilesystemTools
    from switchyard.tools.builtin.general import GeneralTools
    from switchyard.tools.builtin.plan import PlanTools
    from switchyard.tools.builtin.process import ProcessTools
    from switchyard.tools.builtin.resources import ResourceTools
    from switchyard.tools.builtin.skills import SkillTools
    from switchyard.tools.builtin.spawner import AgentSpawner
    from switchyard.tools.builtin.todo import TodoTools

    out = BuiltinTooling()
    filesystems: list[FilesystemTools] = []
    for entry in entries:
        if not entry.enabled:
            continue
        if isinstance(entry, FilesystemToolsConfig):
            family: Any = FilesystemTools(entry, deps.agent_dir, deps.protected)
            filesystems.append(family)
        elif isinstance(entry, ProcessToolsConfig):
            family = ProcessTools(entry, deps.agent_dir, deps.spawn, deps.server_env)
            out.process_families.append(family)
            out.policies.append(CommandPolicy(entry))
        elif isinstance(entry, TodoToolsConfig):
            family = TodoTools(entry, deps.publish)
            out.todo_families.append(family)
        elif isinstance(entry, PlanToolsConfig):
            family = PlanTools(entry, deps.agent_dir, deps.approvals)
        elif isinstance(entry, AgentSpawnerConfig):
            family = AgentSpawner(entry, deps.agent_id, deps.find_agent, deps.publish)
        elif isinstance(entry, LifecycleToolsConfig):   # its search_history is builtin-tools' own
            family = GeneralTools(BuiltinToolsConfig(type="builtin-tools", enabledTools=["search_history"]),
                                  deps.approvals, deps.search_history)
        elif isinstance(entry, SchedulerToolsConfig):   # wired by the server (server/automation.py)
            continue
        elif isinstance(entry, BuiltinToolsConfig):
            family = GeneralTools(entry, deps.approvals, deps.search_history,
                                  SkillTools(deps.skills) if deps.skills is not None else None,
                                  ResourceTools(deps.resources) if deps.resources is not None else None)
        else:  # pragma: no cover - the config's union lists exactly these
            raise TypeError(f"unknown tool family {entry!r}")
        out.tools.extend(family.tools())
    if filesystems:
        out.policies.insert(0, FilesystemPolicy(filesystems))
    return out
