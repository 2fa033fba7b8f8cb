"""Which agent files a folder holds, in the shapes of the reference's agents/ tree.

    agents/
      agent-registry.json        optional: {"agents": {"<id>": {"source": "x/", "main": "x.yml", ...}}}
      support.yml                an agent, id `support` (from the file name)
      billing/billing.yml        a folder per agent, id `billing` (from the folder name)
      travel/agent.yml           the same, with the file named agent.yml
      triage/a.yml, triage/b.yml a folder of several agents, ids `a` and `b`

With a registry file (`agent-registry.json` or `registry.json`, as the reference ships) its
entries are the agents: their ids, names and descriptions come from it, and files it does not
list are not served. A file that sets `agentId` keeps it. Two agents with one id are refused
with a message naming both files (see `check_unique_ids`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from switchyard.errors import ConfigError

AGENT_SUFFIXES = (".yml", ".yaml")
REGISTRY_FILES = ("agent-registry.json", "registry.json")


@dataclass(frozen=True)
class AgentFile:
    path: Path
    registry_id: str | None = None       # the id a registry entry gives it
    name: str | None = None              # the registry's display name and description
    description: str | None = None


@dataclass
class FolderScan:
    files: list[AgentFile]
    registry: Path | None = None
    not_listed: list[Path] | None = None   # agent-looking files a registry leaves out


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in AGENT_SUFFIXES
                  and not p.name.startswith("."))


def _main_file(folder: Path) -> Path | None:
    """The agent file of a folder-per-agent: `<folder>.yml` or `agent.yml`."""
    for stem in (folder.name, "agent"):
        for suffix in AGENT_SUFFIXES:
            candidate = folder / f"{stem}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def _scan_tree(folder: Path) -> list[Path]:
    found = _yaml_files(folder)
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        main = _main_file(sub)
        found.extend([main] if main else _yaml_files(sub))
    return found


def _registry_error(registry: Path, message: str, path: str = "") -> ConfigError:
    return ConfigError(f"{registry}: not a usable agent registry", file=str(registry),
                       issues=[{"file": str(registry), "path": path, "message": message}])


def _from_registry(folder: Path, registry: Path) -> list[AgentFile]:
    try:
        data = json.loads(registry.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _registry_error(registry, f"not a readable JSON registry: {exc}") from None
    entries = data.get("agents") if isinstance(data, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise _registry_error(registry, "expected {\"agents\": {\"<id>\": {\"source\": ...}}} with at least one agent")
    files: list[AgentFile] = []
    for key, entry in entries.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("source"), str):
            raise _registry_error(registry, "needs a `source` (a file, or a folder with `main`)", f"agents.{key}")
        target = folder / entry["source"]
        main = entry.get("main")
        if isinstance(main, str):
            target = target / main
        elif target.is_dir():
            target = _main_file(target) or target / f"{key}.yml"
        if not target.is_file():
            raise _registry_error(registry, f"{target} does not exist", f"agents.{key}")
        files.append(AgentFile(target, registry_id=str(entry.get("id") or key),
                               name=entry.get("name"), description=entry.get("description")))
    return files


def scan_folder(folder: str | Path) -> FolderScan:
    """The agent files of `folder` (see the module docstring). ConfigError when it is not a
    folder or holds no agent file."""
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a folder of agent files", file=str(root),
                          issues=[{"file": str(root), "path": "", "message": "not a folder"}])
    registry = next((root / n for n in REGISTRY_FILES if (root / n).is_file()), None)
    if registry is not None:
        files = _from_registry(root, registry)
        listed = {f.path.resolve() for f in files}
        left_out = [p for p in _scan_tree(root) if p.resolve() not in listed]
        return FolderScan(files, registry=registry, not_listed=left_out)
    found = _scan_tree(root)
    if not found:
        raise ConfigError(f"{root}: no agent files in it (*.yml, *.yaml, or a folder per agent)",
                          file=str(root), issues=[{"file": str(root), "path": "", "message": "no agent files"}])
    return FolderScan([AgentFile(p) for p in found])


def check_unique_ids(agents: Iterable[Any]) -> None:
    """Refuse two agents with one id, naming both files and where each id came from.
    `agents`: LoadedAgent values."""
    seen: dict[str, Any] = {}
    issues: list[dict[str, str]] = []
    for loaded in agents:
        agent_id = loaded.config.agentId
        first = seen.setdefault(agent_id, loaded)
        if first is not loaded:
            a, b = first.path or "the bundled default agent", loaded.path or "the bundled default agent"
            issues.append({"file": str(b), "path": "agentId",
                           "message": f"the id {agent_id!r} ({_how(loaded)}) is already the id of "
                                      f"{a} ({_how(first)}); set a different `agentId` in one of them"})
    if issues:
        raise ConfigError(f"{len(issues)} agent id clash{'es' if len(issues) != 1 else ''}", issues=issues)


def _how(loaded: Any) -> str:
    return {"agentId": "its agentId", "file name": "from its file name", "folder name": "from its folder name",
            "registry": "from the registry", "default": "the default"}.get(loaded.id_source, loaded.id_source)
