"""Load an agent YAML file into an AgentConfig, with errors that name file, field and
expectation, and one warning per reference field that Switchyard does not implement yet."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import BaseModel, ValidationError

from switchyard.config import schema, tools_schema
from switchyard.config.env import expand
from switchyard.errors import ConfigError

log = logging.getLogger("switchyard.config")

DEFAULT_AGENT_RESOURCE = "default-agent.yml"


@dataclass
class LoadedAgent:
    config: schema.AgentConfig
    path: str | None
    warnings: list[str] = field(default_factory=list)

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
                        *tools_schema.TOOL_FAMILY_TYPES):
                continue
            out += f".{part}" if out else str(part)
    return out


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
                agent_dir: str | None = None) -> LoadedAgent:
    """Validate an already-parsed YAML tree. Raises ConfigError listing every issue."""
    env = os.environ if env is None else env
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: an agent file must be a YAML mapping, got {type(raw).__name__}",
                          issues=[{"file": source, "path": "", "message": "expected a mapping of fields"}],
                          file=source)
    missing: list[tuple[str, str]] = []
    tree = expand(raw, env, agent_dir or os.getcwd(), missing=missing)
    if missing:
        issues = [{"file": source, "path": path,
                   "message": f"environment variable ${name} is not set"} for path, name in missing]
        names = ", ".join(sorted({f"${name}" for _, name in missing}))
        raise ConfigError(f"{source}: missing environment variable(s) {names}", issues=issues, file=source)

    warnings: list[str] = []
    if "toolConfirmation" in tree and "permissions" not in tree:
        tree["permissions"] = tree.pop("toolConfirmation")
        warnings.append("`toolConfirmation` is the older name of `permissions`; read as `permissions`")
    _normalize_tools(tree, warnings)
    for node, model, path in _nested_models(tree):
        _strip_unimplemented(node, model, path, warnings)
    sp = tree.get("systemPrompt")
    if isinstance(sp, dict):
        for i, contributor in enumerate(sp.get("contributors") or []):
            if isinstance(contributor, dict) and contributor.get("source") == "resources":
                warnings.append(f"`systemPrompt.contributors[{i}]` (dynamic source `resources`) is "
                                "not implemented by Switchyard yet; it contributes nothing")

    try:
        config = schema.AgentConfig.model_validate(tree)
    except ValidationError as exc:
        issues = []
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
        unique = list({(i["path"], i["message"]): i for i in issues}.values())
        raise ConfigError(f"{source}: invalid agent configuration ({len(unique)} problem"
                          f"{'s' if len(unique) != 1 else ''})", issues=unique, file=source) from None
    return LoadedAgent(config=config, path=None, warnings=warnings)


def load_agent(path: str | os.PathLike[str] | None = None, *,
               env: Mapping[str, str] | None = None, log_warnings: bool = True) -> LoadedAgent:
    """Load an agent file, or the bundled default agent when `path` is None."""
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
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}: cannot read: {exc}", file=source,
                              issues=[{"file": source, "path": "", "message": str(exc)}]) from None
        agent_dir, resolved = str(p.resolve().parent), str(p.resolve())
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}: not valid YAML at {where}: {problem}", file=source,
                          issues=[{"file": source, "path": "", "message": f"YAML syntax error at {where}: {problem}"}]) from None
    loaded = parse_agent(raw, source=source, env=env, agent_dir=agent_dir)
    loaded.path = resolved
    if log_warnings:
        for warning in loaded.warnings:
            log.warning("%s: %s", source, warning)
    return loaded
