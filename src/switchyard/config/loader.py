"""Load an agent YAML file into an AgentConfig, with errors that name file, field and
expectation, and one warning per reference field that Switchyard does not implement yet."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import BaseModel, ValidationError

from switchyard.config import resources_schema, schema, tools_schema
from switchyard.config.env import expand
from switchyard.errors import ConfigError

log = logging.getLogger("switchyard.config")

DEFAULT_AGENT_RESOURCE = "default-agent.yml"


@dataclass
class LoadedAgent:
    config: schema.AgentConfig
    path: str | None
    warnings: list[str] = field(default_factory=list)
    # Where the agent's id came from: "agentId" (set in the file), "file name", "folder name",
    # "registry" (the folder's agent-registry.json) or "default".
    id_source: str = "agentId"
    # Environment variables the file uses that are not set: one issue each ({file, path,
    # message, variable}). Only with `allow_unset=True` (validate); otherwise they are errors.
    unset: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tool_types(self) -> tuple[str, ...]:
        """The `type`s of the file's enabled `tools` entries (each family once)."""
        return tuple(dict.fromkeys(entry.type for entry in self.config.tools if entry.enabled))

    @property
    def agent_dir(self) -> str:
        return str(Path(self.path).parent) if self.path else os.getcwd()


def _strip_unimplemented(raw: dict[str, Any], model: type[BaseModel], path: str,
                         warnings: list[str]) -> None:
    for name in getattr(model, "UNIMPLEMENTED", ()):
        if name in raw:
            raw.pop(name)
            where = f"{path}.{name}" if path else name
            warnings.append(f"`{where}` is part of the Dexto agent format but not implemented "
                            "by Switchyard yet; it is ignored")


# Where, in the raw tree, each model with unimplemented fields sits.
def _nested_models(raw: dict[str, Any]) -> list[tuple[dict[str, Any], type[BaseModel], str]]:
    found: list[tuple[dict[str, Any], type[BaseModel], str]] = [(raw, schema.AgentConfig, "")]
    llm = raw.get("llm")
    if isinstance(llm, dict):
        found.append((llm, schema.LLMConfig, "llm"))
    storage = raw.get("storage")
    if isinstance(storage, dict):
        found.append((storage, schema.StorageConfig, "storage"))
        db, cache = storage.get("database"), storage.get("cache")
        if isinstance(db, dict) and db.get("type") == "postgres":
            found.append((db, schema.PostgresDatabase, "storage.database"))
        if isinstance(cache, dict) and cache.get("type") == "redis":
            found.append((cache, schema.RedisCache, "storage.cache"))
    return found


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            # Discriminated unions add the tag (e.g. 'stdio') as a path element: drop it.
            if part in ("stdio", "http", "sse", "static", "dynamic", "file", "inline",
                        "in-memory", "sqlite", "postgres", "redis", "str", "SystemPromptConfig",
                        *resources_schema.RESOURCE_TYPES,
                        *tools_schema.TOOL_FAMILY_TYPES):
                continue
            out += f".{part}" if out else str(part)
    return out


def _drop_unset(tree: Any, paths: set[str], here: str = "") -> Any:
    """The tree without the mapping entries whose value uses an unset variable, so that the
    rest can be checked (a list item keeps its unexpanded text)."""
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            path = f"{here}.{key}" if here else str(key)
            if path not in paths:
                out[key] = _drop_unset(value, paths, path)
        return out
    if isinstance(tree, list):
        return [_drop_unset(v, paths, f"{here}[{i}]") for i, v in enumerate(tree)]
    return tree


def under(path: str, prefixes: set[str]) -> bool:
    """Whether a field path is one of `prefixes` or inside one of them."""
    return any(path == p or path.startswith((f"{p}.", f"{p}[")) for p in prefixes)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"
_FAMILY_OF_TOOL = {
    **{name: "filesystem-tools" for name in tools_schema.FILESYSTEM_TOOL_NAMES},
    **{name: "process-tools" for name in tools_schema.PROCESS_TOOL_NAMES},
    **{name: "builtin-tools" for name in tools_schema.BUILTIN_TOOL_NAMES},
    **{name: "todo-tools" for name in tools_schema.TODO_TOOL_NAMES},
    **{name: "plan-tools" for name in tools_schema.PLAN_TOOL_NAMES},
}


def _normalize_tools(tree: dict[str, Any], warnings: list[str]) -> None:
    """Older reference files split `tools` into `customTools` (the same entries) and
    `internalTools` (tool names): read both into `tools`. Families of the format that
    Switchyard does not implement yet are dropped with a warning naming their entry."""
    tools = tree.get("tools")
    if "customTools" in tree:
        custom = tree.pop("customTools")
        warnings.append("`customTools` is the older name of `tools`; read as `tools`")
        if isinstance(custom, list):
            tools = [*(tools if isinstance(tools, list) else []), *custom]
    if "internalTools" in tree:
        names = tree.pop("internalTools")
        warnings.append("`internalTools` is the older form of `tools`; read as `tools` entries")
        tools = [*(tools if isinstance(tools, list) else []), *_internal_entries(names, warnings)]
    if tools is None:
        return
    if not isinstance(tools, list):
        tree["tools"] = tools   # validation reports the wrong type with its path
        return
    kept = []
    for i, entry in enumerate(tools):
        kind = entry.get("type") if isinstance(entry, dict) else None
        if kind in tools_schema.UNIMPLEMENTED_TOOL_FAMILIES:
            warnings.append(f"`tools[{i}]` (type {kind}) is part of the Dexto agent format but not "
                            "implemented by Switchyard yet; it is ignored")
            continue
        _drop_unimplemented_names(entry, i, warnings)
        kept.append(entry)
    tree["tools"] = kept


def _drop_unimplemented_names(entry: Any, index: int, warnings: list[str]) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("enabledTools"), list):
        return
    unimplemented = tools_schema.UNIMPLEMENTED_TOOL_NAMES.get(entry.get("type"), ())
    for name in [n for n in entry["enabledTools"] if n in unimplemented]:
        warnings.append(f"`tools[{index}].enabledTools`: tool '{name}' is part of the Dexto format but "
                        "not implemented by Switchyard yet; it is ignored")
    entry["enabledTools"] = [n for n in entry["enabledTools"] if n not in unimplemented]


def _internal_entries(names: Any, warnings: list[str]) -> list[dict[str, Any]]:
    if not isinstance(names, list):
        return []
    by_family: dict[str, list[str]] = {}
    for name in names:
        family = _FAMILY_OF_TOOL.get(name) if isinstance(name, str) else None
        if family is None:
            warnings.append(f"`internalTools`: tool {name!r} is not implemented by Switchyard; ignored")
            continue
        by_family.setdefault(family, []).append(name)
    entries = []
    for family, enabled in by_family.items():
        entry: dict[str, Any] = {"type": family}
        if family != "todo-tools":
            entry["enabledTools"] = enabled
        entries.append(entry)
    return entries


def parse_agent(raw: Any, *, source: str = "<config>", env: Mapping[str, str] | None = None,
                agent_dir: str | None = None, allow_unset: bool = False) -> LoadedAgent:
    """Validate an already-parsed YAML tree. Raises ConfigError listing every issue, unset
    environment variables and schema errors together. With `allow_unset` an unset variable
    is not an error: it is listed in `LoadedAgent.unset` and the field that uses it is left
    out of the check (so that its unexpanded `$VAR` does not cause a second, confusing error)."""
    env = os.environ if env is None else env
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: an agent file must be a YAML mapping, got {type(raw).__name__}",
                          issues=[{"file": source, "path": "", "message": "expected a mapping of fields"}],
                          file=source)
    missing: list[tuple[str, str]] = []
    tree = expand(raw, env, agent_dir or os.getcwd(), missing=missing)
    unset = [{"file": source, "path": path, "variable": name,
              "message": f"environment variable ${name} is not set"} for path, name in missing]
    unset_paths = {path for path, _ in missing}
    if unset_paths:
        tree = _drop_unset(tree, unset_paths)

    warnings: list[str] = []
    if "toolConfirmation" in tree and "permissions" not in tree:
        tree["permissions"] = tree.pop("toolConfirmation")
        warnings.append("`toolConfirmation` is the older name of `permissions`; read as `permissions`")
    _normalize_tools(tree, warnings)
    for node, model, path in _nested_models(tree):
        _strip_unimplemented(node, model, path, warnings)

    issues: list[dict[str, Any]] = []
    config = None
    try:
        config = schema.AgentConfig.model_validate(tree)
    except ValidationError as exc:
        for err in exc.errors():
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown field (not part of the Dexto agent format)"
            elif err["type"] == "union_tag_invalid":
                msg = f"unknown type {err.get('input', {}).get('type')!r}; expected one of {err['ctx']['expected_tags']}" \
                    if isinstance(err.get("input"), dict) else msg
            elif err["type"] == "literal_error":
                msg = f"got {err.get('input')!r}; expected {err['ctx']['expected']}"
            issues.append({"file": source, "path": _format_loc(err["loc"]), "message": msg})
    # One line per distinct (path, message): unions can repeat the same complaint.
    issues = [i for i in {(i["path"], i["message"]): i for i in issues}.values()
              if not under(i["path"], unset_paths)]
    if not allow_unset or (config is None and not issues):
        issues = unset + issues
    if issues or config is None:
        error = ConfigError(f"{source}: invalid agent configuration ({_plural(len(issues), 'problem')})",
                            issues=issues, file=source)
        error.unset = unset if allow_unset else []   # type: ignore[attr-defined]  # the caller decides
        raise error
    return LoadedAgent(config=config, path=None, warnings=warnings,
                       unset=unset if allow_unset else [])


def derive_agent_id(path: str | os.PathLike[str]) -> tuple[str, str]:
    """(id, where it came from) for an agent file that sets no `agentId`: the file name without
    its extension, or the folder's name for a file named `agent.yml` / `config.yml` (a folder
    per agent, as in the reference's agents/ tree). Characters an id cannot hold become `-`."""
    p = Path(path)
    stem, source = p.stem, "file name"
    if stem.lower() in ("agent", "config"):
        stem, source = p.resolve().parent.name, "folder name"
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._")[:100]
    return cleaned, source


def load_agent(path: str | os.PathLike[str] | None = None, *,
               env: Mapping[str, str] | None = None, log_warnings: bool = True,
               allow_unset: bool = False, agent_id: str | None = None) -> LoadedAgent:
    """Load an agent file, or the bundled default agent when `path` is None. An agent file
    that sets no `agentId` gets `agent_id` (a registry's), else one from its file name."""
    if path is None:
        text = resources.files("switchyard.agents").joinpath(DEFAULT_AGENT_RESOURCE).read_text("utf-8")
        source, agent_dir, resolved = "default-agent.yml (bundled)", os.getcwd(), None
    else:
        p = Path(path)
        source = str(p)
        try:
            text = p.read_text("utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{source}: no such file", file=source,
                              issues=[{"file": source, "path": "", "message": "file not found"}]) from None
        except IsADirectoryError:
            raise ConfigError(f"{source}: is a folder (use --agents for a folder of agents)", file=source,
                              issues=[{"file": source, "path": "", "message": "a folder, not a file (serve --agents DIR takes a folder of agents)"}]) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}: cannot read: {exc}", file=source,
                              issues=[{"file": source, "path": "", "message": str(exc)}]) from None
        agent_dir, resolved = str(p.resolve().parent), str(p.resolve())
    return load_agent_text(text, source=source, agent_dir=agent_dir, resolved=resolved,
                           id_path=path, env=env, log_warnings=log_warnings,
                           allow_unset=allow_unset, agent_id=agent_id)


def load_agent_text(text: str, *, source: str, agent_dir: str, resolved: str | None,
                    id_path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None,
                    log_warnings: bool = True, allow_unset: bool = False,
                    agent_id: str | None = None) -> LoadedAgent:
    """An agent from YAML text, as if read from the file `resolved` (None: the bundled
    default agent); `id_path` derives the id when the text sets no `agentId`. Used for
    files, and for a configuration posted over the API before it is written."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}: not valid YAML at {where}: {problem}", file=source,
                          issues=[{"file": source, "path": "", "message": f"YAML syntax error at {where}: {problem}"}]) from None
    if raw is None:
        raise ConfigError(f"{source}: the file is empty (an agent file needs at least `llm` or "
                          "`systemPrompt`)", file=source,
                          issues=[{"file": source, "path": "", "message": "the file is empty"}])
    loaded = parse_agent(raw, source=source, env=env, agent_dir=agent_dir, allow_unset=allow_unset)
    loaded.path = resolved
    if id_path is None:
        loaded.id_source = "default"
    elif "agentId" not in loaded.config.model_fields_set:
        derived, how = (agent_id, "registry") if agent_id else derive_agent_id(id_path)
        if not derived:
            raise ConfigError(f"{source}: no agent id can be made from the file name; set `agentId`",
                              file=source, issues=[{"file": source, "path": "agentId",
                                                    "message": "required: the file name holds no usable id"}])
        loaded.config.agentId, loaded.id_source = derived, how
    if log_warnings:
        for warning in loaded.warnings:
            log.warning("%s: %s", source, warning)
    return loaded
