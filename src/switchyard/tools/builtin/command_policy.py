"""What bash_exec may run: the `securityLevel` command policy, as a ToolPolicy.

Three answers, evaluated before the permissions mode (tools/policy.py composes them; a deny
or an ask here holds even in auto-approve mode):

- **deny**, at every level: the destructive patterns in `DESTRUCTIVE` (wiping `/` or `~`,
  formatting or overwriting a disk, fork bombs, shutdown, piping a download into a shell),
  any `blockedCommands` entry, and a command ending in `&` (use run_in_background, so the
  process stays supervised). `strict` also denies command substitution (`$(...)`, backticks).
- **ask**: `strict` asks for every command whose program is not in `allowedCommands`;
  `moderate` asks for the risky programs in `RISKY` (deleting, moving, permission changes,
  privilege, network downloads, package installs, git history rewrites);
  `permissive` never asks on its own.
- no opinion otherwise: the permissions mode decides.

This is a guard against accidents and obvious abuse, not a sandbox: a shell can be made to
do anything it is allowed to start. Documented as such in SECURITY.md.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from switchyard.config.tools_schema import ProcessToolsConfig
from switchyard.tools.context import ToolCallContext
from switchyard.tools.policy import PolicyDecision

DESTRUCTIVE: tuple[tuple[str, re.Pattern[str]], ...] = tuple((label, re.compile(rx)) for label, rx in (
    ("recursive delete of / or ~", r"\brm\s+(-[a-zA-Z]*\s+)*-[a-zA-Z]*[rR][a-zA-Z]*\s+(-[a-zA-Z-]+\s+)*(/|~|\$HOME|/\*)(\s|$|;|&|\|)"),
    ("recursive delete of / or ~", r"\brm\s+(-[a-zA-Z-]+\s+)*--no-preserve-root\b"),
    ("formatting a filesystem", r"\bmkfs(\.\w+)?\b"),
    ("writing to a disk device", r"\bdd\b[^|;&]*\bof=/dev/(sd|hd|nvme|xvd|vd|disk|mmcblk)"),
    ("writing to a disk device", r">\s*/dev/(sd|hd|nvme|xvd|vd|disk|mmcblk)"),
    ("fork bomb", r":\s*\(\s*\)\s*\{[^}]*:\s*\|\s*:"),
    ("shutting the machine down", r"(^|[;&|]\s*|\bsudo\s+)(shutdown|reboot|halt|poweroff)\b"),
    ("recursive permission change of /", r"\bch(mod|own)\s+(-[a-zA-Z]+\s+)*-[a-zA-Z]*R[a-zA-Z]*\s+\S+\s+/(\s|$)"),
    ("piping a download into a shell", r"\b(curl|wget)\b[^|;]*\|\s*(sudo\s+)?(ba|z|k|da)?sh\b"),
))

RISKY = frozenset({
    "rm", "rmdir", "mv", "dd", "chmod", "chown", "chgrp", "sudo", "su", "doas", "kill", "pkill",
    "killall", "curl", "wget", "scp", "rsync", "ssh", "nc", "ncat", "pip", "pip3", "npm", "pnpm",
    "yarn", "apt", "apt-get", "brew", "docker", "truncate", "shred", "crontab",
})
RISKY_GIT = ("push", "reset", "clean", "rebase", "filter-branch", "checkout")

_SEPARATORS = re.compile(r"&&|\|\||[;|\n]")


def programs(command: str) -> list[str]:
    """The program of each simple command in a command line (after env assignments)."""
    found = []
    for part in _SEPARATORS.split(command):
        try:
            words = shlex.split(part, comments=True)
        except ValueError:
            words = part.split()
        while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
            words.pop(0)
        if words:
            found.append(words[0].rsplit("/", 1)[-1])
            if words[0].rsplit("/", 1)[-1] == "git" and len(words) > 1 and words[1] in RISKY_GIT:
                found.append(f"git {words[1]}")
    return found


class CommandPolicy:
    """bash_exec's command rules for one process-tools entry (see the module docstring)."""

    def __init__(self, config: ProcessToolsConfig, tool_name: str = "bash_exec") -> None:
        self.config = config
        self.tool_name = tool_name

    def evaluate(self, tool_name: str, arguments: dict[str, Any],
                 context: ToolCallContext) -> PolicyDecision | None:
        if tool_name != self.tool_name or not isinstance(arguments, dict):
            return None
        command = arguments.get("command")
        if not isinstance(command, str):
            return None
        return self.judge(command)

    def judge(self, command: str) -> PolicyDecision | None:
        level = self.config.securityLevel
        for label, pattern in DESTRUCTIVE:
            if pattern.search(command):
                return PolicyDecision.deny(f"command blocked by process-tools ({label})")
        for blocked in self.config.blockedCommands:
            if blocked and blocked in command:
                return PolicyDecision.deny(f"command blocked by process-tools blockedCommands entry '{blocked}'")
        if re.search(r"(?<![&\\])&\s*$", command):
            return PolicyDecision.deny("commands ending with & are blocked by process-tools; "
                                       "use run_in_background instead")
        used = programs(command)
        if level == "strict":
            if "$(" in command or "`" in command:
                return PolicyDecision.deny("command substitution is blocked by process-tools "
                                           "(securityLevel strict)")
            allowed = set(self.config.allowedCommands)
            outside = [p for p in used if p not in allowed and " " not in p]
            if outside or any(" " in p for p in used):
                return PolicyDecision.ask(f"securityLevel strict: '{(outside or used)[0]}' is not in "
                                          "allowedCommands")
            return None
        if level == "moderate":
            risky = [p for p in used if p in RISKY or p.startswith("git ")]
            if risky:
                return PolicyDecision.ask(f"securityLevel moderate: '{risky[0]}' needs approval")
        return None
