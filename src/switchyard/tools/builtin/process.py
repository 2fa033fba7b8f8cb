"""The `process-tools` family: bash_exec, bash_output, kill_process (the reference's names,
inputs and result fields).

bash_exec runs `/bin/sh -c` in the agent's folder (or `workingDirectory`; a `cwd` argument
must stay inside it), with an environment built from scratch: a few harmless variables of the
server's (PATH, locale, HOME, TMPDIR...) plus the entry's `environment`, never the server's
API keys, database URLs or SWITCHYARD_* settings. What it may run is decided before the call
by the CommandPolicy (command_policy.py); how it runs (timeouts, process groups, output caps,
background processes) is in processes.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from pydantic import Field

from switchyard.config.tools_schema import MAX_PROCESS_TIMEOUT_MS, PROCESS_TOOL_NAMES, ProcessToolsConfig
from switchyard.errors import ToolError
from switchyard.tools.builtin.base import BuiltinTool, ToolInput
from switchyard.tools.builtin.processes import ProcessRegistry, Spawn, kill_group, run_foreground
from switchyard.tools.context import ToolCallContext
from switchyard.tools.sandbox import resolve

FAMILY = "process-tools"
# The only variables of the server's environment a command inherits.
INHERITED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "HOME", "USER", "LOGNAME",
                 "SHELL", "TMPDIR")


class BashExecInput(ToolInput):
    command: str = Field(min_length=1, description="Shell command to execute")
    description: str | None = Field(None, description="What the command does, in 5-10 words")
    timeout: int = Field(120_000, gt=0, le=MAX_PROCESS_TIMEOUT_MS,
                         description="Timeout in milliseconds (default 120000, max 600000)")
    run_in_background: bool = Field(False, description="Run in the background; read its output with bash_output")
    cwd: str | None = Field(None, description="Working folder, inside the agent's working folder")


class ProcessIdInput(ToolInput):
    process_id: str = Field(description="Process ID from bash_exec (run_in_background=true)")


def command_environment(server_env: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    env = {name: server_env[name] for name in INHERITED_ENV if name in server_env}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(extra)
    return env


class ProcessTools:
    def __init__(self, config: ProcessToolsConfig, agent_dir: Path, spawn: Spawn,
                 server_env: Mapping[str, str] | None = None) -> None:
        self.config = config
        base = Path(agent_dir) / config.workingDirectory if config.workingDirectory else Path(agent_dir)
        self.working_dir = Path(os.path.realpath(base))
        self.env = command_environment(os.environ if server_env is None else server_env, config.environment)
        self.registry = ProcessRegistry(spawn, config.maxOutputBuffer, config.maxConcurrentProcesses)

    def tools(self) -> list[BuiltinTool[Any]]:
        every = {
            "bash_exec": BuiltinTool(
                "bash_exec", "Execute a shell command in the agent's working folder. Returns stdout, stderr, "
                "exit_code and duration; with run_in_background=true returns a process_id for bash_output. "
                "Each command runs in a fresh shell. Dangerous commands are blocked; risky ones need "
                "approval. Commands ending with & are blocked: use run_in_background.",
                BashExecInput, self.bash_exec, family=FAMILY),
            "bash_output": BuiltinTool(
                "bash_output", "Read the new output of a background process started with bash_exec: "
                "stdout, stderr, status (running/completed/failed), exit_code and duration. The output "
                "read is cleared.", ProcessIdInput, self.bash_output, family=FAMILY),
            "kill_process": BuiltinTool(
                "kill_process", "Kill a background process started with bash_exec (and everything it "
                "started).", ProcessIdInput, self.kill_process, family=FAMILY),
        }
        enabled = self.config.enabledTools if self.config.enabledTools is not None else list(PROCESS_TOOL_NAMES)
        return [every[name] for name in PROCESS_TOOL_NAMES if name in enabled]

    def _cwd(self, cwd: str | None) -> str:
        if not cwd:
            return str(self.working_dir)
        resolved = resolve(cwd, self.working_dir)
        if resolved != self.working_dir and self.working_dir not in resolved.parents:
            raise ToolError(f"cwd '{cwd}' denied: it must be inside {self.working_dir}")
        if not resolved.is_dir():
            raise ToolError(f"cwd '{cwd}' is not a folder")
        return str(resolved)

    async def bash_exec(self, args: BashExecInput, context: ToolCallContext) -> dict[str, Any]:
        cwd = self._cwd(args.cwd)
        timeout_ms = min(args.timeout if "timeout" in args.model_fields_set else
                         (self.config.timeout or args.timeout), self.config.maxTimeout)
        if args.run_in_background:
            if self.registry.running() >= self.config.maxConcurrentProcesses:
                raise ToolError(f"{self.config.maxConcurrentProcesses} background processes are already "
                                "running (maxConcurrentProcesses); kill one first")
            entry = await self.registry.start(args.command, cwd, self.env, timeout_ms / 1000, context.owner)
            return {"process_id": entry.process_id,
                    "message": f"Command started in background with ID: {entry.process_id}. "
                               "Use bash_output to retrieve output."}
        result = await run_foreground(args.command, cwd, self.env, timeout_ms / 1000,
                                      self.config.maxOutputBuffer, context.cancellation.wait)
        out: dict[str, Any] = {"stdout": result.stdout, "stderr": result.stderr,
                               "exit_code": result.exit_code, "duration": result.duration}
        if result.timed_out:
            out["error"] = f"command timed out after {timeout_ms} ms; its process group was killed"
        if result.cancelled:
            out["error"] = "command cancelled; its process group was killed"
        return out

    async def bash_output(self, args: ProcessIdInput, context: ToolCallContext) -> dict[str, Any]:
        entry = self.registry.get(args.process_id, context.owner)
        if entry is None:
            raise ToolError(f"no background process '{args.process_id}'")
        out: dict[str, Any] = {"stdout": entry.stdout.take(), "stderr": entry.stderr.take(),
                               "status": entry.status}
        if entry.process.returncode is not None:
            out["exit_code"] = entry.process.returncode
        if entry.ended is not None:
            out["duration"] = int((entry.ended - entry.started) * 1000)
        return out

    async def kill_process(self, args: ProcessIdInput, context: ToolCallContext) -> dict[str, Any]:
        entry = self.registry.get(args.process_id, context.owner)
        if entry is None:
            raise ToolError(f"no background process '{args.process_id}'")
        was_running = entry.process.returncode is None
        kill_group(entry.process)
        return {"success": True, "process_id": args.process_id,
                "message": "process killed" if was_running else "process had already exited"}

    def kill_all(self) -> int:
        return self.registry.kill_all()

    async def close(self) -> None:
        await self.registry.close()
