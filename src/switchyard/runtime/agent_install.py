"""Installing and uninstalling agents of a multi-agent server's agents folder
(`switchyard serve --agents DIR`), without a restart.

Everything installed lands in the agents folder as `<id>/<id>.yml` (with the files beside
it), so the next start serves it too; a folder with an `agent-registry.json` gets an entry.
A source path must resolve (symbolic links followed) inside an allowed root: the agents
folder, and the folders of `SWITCHYARD_AGENT_INSTALL_ROOTS`; symbolic links inside a copied
folder are not followed (they could reach outside). Uninstalling deletes `<id>/` when the
folder was made by install or create (it holds the `.installed-by-switchyard` mark), as the
reference deletes an installed agent; any other agent (the operator's own files) stops being
served and its files stay.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from switchyard.config.folder import REGISTRY_FILES, AgentFile, scan_folder
from switchyard.config.loader import derive_agent_id
from switchyard.config.secrets import secret_literals
from switchyard.errors import ConfigError, ConflictError, ForbiddenError, NotFoundError, RequestError
from switchyard.runtime.agent_files import check_file
from switchyard.runtime.agent_swap import write_atomically

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
MAX_COPY_FILES = 1000
MAX_COPY_BYTES = 20 * 1024 * 1024
# Written into every `<id>/` that install or create made: only those are deleted on uninstall.
INSTALLED_MARK = ".installed-by-switchyard"


@dataclass
class AgentsFolder:
    root: Path
    extra_roots: list[Path] = field(default_factory=list)

    @classmethod
    def of(cls, folder: str | os.PathLike[str], env: Mapping[str, str]) -> "AgentsFolder":
        extra = [Path(p).expanduser().resolve() for p in (env.get("SWITCHYARD_AGENT_INSTALL_ROOTS") or "")
                 .split(os.pathsep) if p.strip()]
        return cls(Path(folder).resolve(), extra)

    # --- what is there --------------------------------------------------------------------

    def available(self, served: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Agent files of the folder that are not served (dropped in, or not installed)."""
        out = []
        for entry in self._entries():
            agent_id = _file_id(entry)
            if agent_id and agent_id not in served:
                out.append({"id": agent_id, "name": entry.name or agent_id,
                            "description": entry.description or "", "type": "custom", "_entry": entry})
        return out

    def _entries(self) -> list[AgentFile]:
        try:
            return scan_folder(self.root).files
        except ConfigError:
            return []

    # --- checks -----------------------------------------------------------------------------

    def allowed_source(self, source: str, field_name: str) -> Path:
        """`source` resolved, when inside an allowed root; ForbiddenError naming the field if not."""
        if not source or "\x00" in source:
            raise RequestError(f"`{field_name}` must be a path", details={"field": field_name})
        path = Path(source).expanduser()
        if not path.is_absolute():
            path = self.root / path
        resolved = path.resolve()
        roots = [self.root, *self.extra_roots]
        if not any(resolved == r or resolved.is_relative_to(r) for r in roots):
            raise ForbiddenError(f"`{field_name}` is outside the folders agents may be installed from (the "
                                 "agents folder and SWITCHYARD_AGENT_INSTALL_ROOTS)", code="install_path_forbidden",
                                 details={"field": field_name})
        if not resolved.exists():
            raise NotFoundError(f"`{field_name}`: no such file or folder", code="install_source_missing",
                                details={"field": field_name})
        return resolved

    def target(self, agent_id: str) -> Path:
        folder = self.root / agent_id
        if folder.exists():
            raise ConflictError(f"{agent_id}/ already exists in the agents folder", code="agent_exists",
                                details={"field": "id"})
        return folder

    # --- writing ----------------------------------------------------------------------------

    def copy_in(self, agent_id: str, source: Path, main: str | None) -> Path:
        """Copy a file, or a folder (without symbolic links), to `<id>/`; returns `<id>/<id>.yml`."""
        folder = self.target(agent_id)
        if source.is_dir() and folder.resolve().is_relative_to(source):
            raise RequestError("`sourcePath` holds the agents folder itself: name the agent's own folder",
                               details={"field": "sourcePath"})
        if source.is_file():
            main_file = source
        else:
            main_file = _main_of(source, main, agent_id)
        try:
            text = main_file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RequestError(f"the agent file cannot be read ({exc.__class__.__name__})",
                               details={"field": "sourcePath"}) from None
        self.make_folder(agent_id)
        try:
            if source.is_dir():
                _copy_tree(source, folder, skip=main_file)
            write_atomically(folder / f"{agent_id}.yml", text)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return folder / f"{agent_id}.yml"

    def make_folder(self, agent_id: str) -> Path:
        """`<id>/`, new, with the mark that lets uninstall delete it."""
        folder = self.root / agent_id
        folder.mkdir(parents=True)
        (folder / INSTALLED_MARK).write_text("made by POST /api/agents/install or /custom/create\n")
        return folder

    def register(self, agent_id: str, meta: dict[str, Any]) -> None:
        """Add the agent to the folder's registry file, when it has one (else nothing lists it)."""
        registry = self._registry()
        if registry is None:
            return
        data = json.loads(registry.read_text("utf-8"))
        data.setdefault("agents", {})[agent_id] = {"source": f"{agent_id}/", "main": f"{agent_id}.yml",
                                                   **{k: v for k, v in meta.items() if v}}
        write_atomically(registry, json.dumps(data, indent=2) + "\n")

    def unregister(self, agent_id: str) -> None:
        registry = self._registry()
        if registry is None:
            return
        data = json.loads(registry.read_text("utf-8"))
        if isinstance(data.get("agents"), dict) and data["agents"].pop(agent_id, None) is not None:
            write_atomically(registry, json.dumps(data, indent=2) + "\n")

    def _registry(self) -> Path | None:
        return next((self.root / n for n in REGISTRY_FILES if (self.root / n).is_file()), None)

    def remove_files(self, agent_id: str, agent_path: str | None) -> bool:
        """Delete `<id>/` when install or create made it and the agent's file is in it; False
        (nothing deleted) otherwise."""
        folder = (self.root / agent_id).resolve()
        if not agent_path or folder.parent != self.root or not Path(agent_path).resolve().is_relative_to(folder) \
                or not (folder / INSTALLED_MARK).is_file():
            return False
        shutil.rmtree(folder)
        self.unregister(agent_id)
        return True


def check_id(agent_id: str, field_name: str = "id") -> str:
    if not isinstance(agent_id, str) or not ID_PATTERN.match(agent_id):
        raise RequestError(f"`{field_name}` must be 1-64 lowercase letters, digits and '-', starting with a "
                           "letter or digit", details={"field": field_name})
    return agent_id


def checked(path: Path, agent_id: str, *, name: str | None, description: str | None,
            env: Mapping[str, str] | None, text: str | None = None, prefix: str = "") -> Any:
    """The agent of `path` (or `text` as that file) as serving checks it; ConfigError with
    every problem, and one when the file's own agentId is not `agent_id`."""
    report = check_file(AgentFile(path, registry_id=agent_id, name=name, description=description),
                        env=env, strict=True, text=text)
    if not report.ok:
        issues = [{"path": prefix + e.get("path", "") if e.get("path") else prefix.rstrip("."),
                   "message": e["message"]} for e in report.errors]
        raise ConfigError(f"the agent configuration is not valid ({len(issues)} problem"
                          f"{'s' if len(issues) != 1 else ''})", issues=issues)
    if report.loaded.config.agentId != agent_id:
        raise ConfigError("the configuration's agentId is not the id to install", issues=[
            {"path": prefix + "agentId",
             "message": f"is {report.loaded.config.agentId!r}, the request's id is {agent_id!r}"}])
    return report.loaded


def config_text(agent_id: str, config: dict[str, Any]) -> str:
    """A posted configuration as the file to write: its agentId set, no secret in plain text
    (a secret belongs in the server's environment, referenced as $VAR)."""
    if not isinstance(config, dict):
        raise RequestError("`config` must be an object", details={"field": "config"})
    plain = secret_literals(config)
    if plain:
        raise ConfigError("a secret in plain text would be written to disk", issues=[
            {"path": f"config.{p}", "message": "a secret in plain text: set it in the server's environment and "
             "write an environment reference ($VAR) here"} for p in plain])
    return yaml.safe_dump({"agentId": agent_id, **{k: v for k, v in config.items() if k != "agentId"}}
                          if config.get("agentId") in (None, agent_id) else config,
                          sort_keys=False, allow_unicode=True)


def _file_id(entry: AgentFile) -> str | None:
    try:
        raw = yaml.safe_load(entry.path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if isinstance(raw, dict) and isinstance(raw.get("agentId"), str):
        return raw["agentId"]
    return entry.registry_id or derive_agent_id(entry.path)[0] or None


def _main_of(folder: Path, main: str | None, agent_id: str) -> Path:
    if main:
        candidate = (folder / main).resolve()
        if not candidate.is_relative_to(folder) or not candidate.is_file():
            raise RequestError("`metadata.main` must name an agent file inside `sourcePath`",
                               details={"field": "metadata.main"})
        return candidate
    for stem in (agent_id, folder.name, "agent"):
        for suffix in (".yml", ".yaml"):
            if (folder / f"{stem}{suffix}").is_file():
                return folder / f"{stem}{suffix}"
    ymls = [p for p in folder.iterdir() if p.is_file() and p.suffix in (".yml", ".yaml")]
    if len(ymls) == 1:
        return ymls[0]
    raise RequestError("`sourcePath` holds no agent file to use: name it in `metadata.main`",
                       details={"field": "metadata.main"})


def _copy_tree(source: Path, target: Path, *, skip: Path) -> None:
    count = size = 0
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if not (here / d).is_symlink() and not d.startswith(".")]
        for name in filenames:
            src = here / name
            if src.is_symlink() or src == skip or name.startswith("."):
                continue
            count += 1
            size += src.stat().st_size
            if count > MAX_COPY_FILES or size > MAX_COPY_BYTES:
                raise RequestError(f"`sourcePath` is too large to install (over {MAX_COPY_FILES} files or "
                                   f"{MAX_COPY_BYTES // (1024 * 1024)} MiB)", details={"field": "sourcePath"})
            dest = target / src.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
