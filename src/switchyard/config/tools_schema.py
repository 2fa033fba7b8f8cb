"""The agent file's `tools:` list: one entry per tool family, selected by `type`.

Field names and defaults are the Dexto format's, so a reference agent file validates
unchanged; options Switchyard adds are marked "ours". Every entry forbids unknown options, so
`switchyard validate` names a misspelt option with its path (`tools[0].allowedPath`).
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

FILESYSTEM_TOOL_NAMES = ("read_file", "read_media_file", "write_file", "edit_file",
                         "glob_files", "grep_content")
PROCESS_TOOL_NAMES = ("bash_exec", "bash_output", "kill_process")
BUILTIN_TOOL_NAMES = ("ask_user", "http_request", "delegate_to_url", "invoke_skill", "read_skill", "sleep",
                      "search_history", "list_resources", "get_resource")
TODO_TOOL_NAMES = ("todo_write",)
PLAN_TOOL_NAMES = ("plan_create", "plan_read", "plan_update", "plan_review")
LIFECYCLE_TOOL_NAMES = ("view_logs", "search_history", "memory_list", "memory_get", "memory_create",
                        "memory_update", "memory_delete")

# Tool names of the reference's families that Switchyard does not implement yet: listed in
# `enabledTools` they load with a warning (an unknown name is an error).
UNIMPLEMENTED_TOOL_NAMES = {
    "filesystem-tools": ("list_directory", "find_paths"),
    "lifecycle-tools": ("view_logs", "memory_list", "memory_get", "memory_create", "memory_update",
                        "memory_delete"),
    "builtin-tools": ("skill_load", "web_search", "code_search"),
}

MAX_PROCESS_TIMEOUT_MS = 600_000


class _Family(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    enabled: bool = True


class FilesystemToolsConfig(_Family):
    type: Literal["filesystem-tools"]
    allowedPaths: list[str] = Field(default_factory=lambda: ["."])
    blockedPaths: list[str] = Field(default_factory=lambda: [".git", "node_modules/.bin", ".env"])
    blockedExtensions: list[str] = Field(default_factory=lambda: [".exe", ".dll", ".so"])
    maxFileSize: int = Field(10 * 1024 * 1024, gt=0, description="bytes")
    workingDirectory: str | None = None
    enableBackups: bool = False
    backupPath: str | None = None
    backupRetentionDays: int = Field(7, gt=0)
    enabledTools: list[Literal[FILESYSTEM_TOOL_NAMES]] | None = None  # type: ignore[valid-type]


class ProcessToolsConfig(_Family):
    type: Literal["process-tools"]
    securityLevel: Literal["strict", "moderate", "permissive"] = "moderate"
    maxTimeout: int = Field(MAX_PROCESS_TIMEOUT_MS, gt=0, le=MAX_PROCESS_TIMEOUT_MS, description="ms")
    maxConcurrentProcesses: int = Field(5, gt=0)
    maxOutputBuffer: int = Field(1024 * 1024, gt=0, description="bytes")
    workingDirectory: str | None = None
    allowedCommands: list[str] = Field(default_factory=list)
    blockedCommands: list[str] = Field(default_factory=list)
    environment: dict[str, str] = Field(default_factory=dict)
    timeout: int | None = Field(None, gt=0, le=MAX_PROCESS_TIMEOUT_MS, description="ms")
    enabledTools: list[Literal[PROCESS_TOOL_NAMES]] | None = None  # type: ignore[valid-type]


class TodoToolsConfig(_Family):
    type: Literal["todo-tools"]
    maxTodosPerSession: int = Field(100, gt=0)
    enableEvents: bool = True


class PlanToolsConfig(_Family):
    type: Literal["plan-tools"]
    basePath: str = ".dexto/plans"   # relative to the agent's folder
    enabledTools: list[Literal[PLAN_TOOL_NAMES]] | None = None  # type: ignore[valid-type]


class LifecycleToolsConfig(_Family):
    """Of the reference's lifecycle tools, Switchyard implements search_history."""

    type: Literal["lifecycle-tools"]
    enabledTools: list[Literal[LIFECYCLE_TOOL_NAMES]] | None = None  # type: ignore[valid-type]
    maxLogLines: int = Field(200, gt=0)
    maxLogBytes: int = Field(200_000, gt=0)


class AgentSpawnerConfig(_Family):
    type: Literal["agent-spawner"]
    maxConcurrentAgents: int = Field(5, gt=0)
    defaultTimeout: int = Field(0, ge=0, description="ms; 0 = no timeout")
    allowSpawning: bool = True
    allowedAgents: list[Annotated[str, Field(min_length=1)]] | None = None
    autoApproveAgents: list[Annotated[str, Field(min_length=1)]] | None = None


class BuiltinToolsConfig(_Family):
    type: Literal["builtin-tools"]
    enabledTools: list[Literal[BUILTIN_TOOL_NAMES]] | None = None  # type: ignore[valid-type]
    # ours: hosts (`name` or `name:port`) http_request may reach although they resolve to a
    # loopback, private or link-local address (e.g. an internal service you trust).
    allowedHosts: list[str] = Field(default_factory=list)
    # ours: caps of http_request
    maxResponseBytes: int = Field(5 * 1024 * 1024, gt=0)
    maxRedirects: int = Field(5, ge=0, le=20)


class SchedulerToolsConfig(_Family):
    """The scheduler's own tools (create_schedule, list_schedules, ...: automation/scheduler_tools.py),
    wired by the server, which owns the schedules."""

    type: Literal["scheduler-tools"]


ToolFamilyConfig = Annotated[
    Union[FilesystemToolsConfig, ProcessToolsConfig, TodoToolsConfig, PlanToolsConfig, AgentSpawnerConfig,
          LifecycleToolsConfig, BuiltinToolsConfig, SchedulerToolsConfig],
    Field(discriminator="type")]

TOOL_FAMILY_TYPES = ("filesystem-tools", "process-tools", "todo-tools", "plan-tools", "agent-spawner",
                     "lifecycle-tools", "builtin-tools", "scheduler-tools")
# Families of the reference format that Switchyard does not implement yet: an entry loads
# with a warning instead of an error, so real agent files still load.
UNIMPLEMENTED_TOOL_FAMILIES: tuple[str, ...] = ()
