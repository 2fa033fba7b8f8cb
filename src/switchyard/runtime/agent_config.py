"""An agent's configuration file over the API: read it (secrets redacted), validate YAML,
apply a new configuration without a restart (checked as `switchyard validate --strict`
checks a file, started beside the running agent, written atomically, then swapped in:
runtime/agent_swap.py), and export the effective configuration (secrets redacted)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Mapping

import yaml

from switchyard.config.folder import AgentFile
from switchyard.config.secrets import placeholders, redact_tree, redact_yaml_text, secret_literals
from switchyard.errors import ConfigError, NotFoundError
from switchyard.runtime.agent import Agent
from switchyard.runtime.agent_files import check_file
from switchyard.runtime.agent_swap import change_lock, replace, write_atomically
from switchyard.runtime.host import AgentHost

# What the reference's GET /api/agent/config says with every file.
READ_WARNINGS = ["Environment variables ($VAR) will be resolved at runtime",
                 "API keys should use environment variables"]
MAX_CONFIG_CHARS = 1_000_000
MAX_ALIASES = 16


def config_path(agent: Agent) -> Path:
    """The agent's file; NotFoundError for the bundled default agent (it has none)."""
    if not agent.loaded.path:
        raise NotFoundError(f"agent {agent.id!r} is the bundled default agent and has no file; serve an "
                            "agent file (switchyard serve --agent FILE) to read or change its configuration",
                            code="agent_config_path_missing", details={"agentId": agent.id})
    return Path(agent.loaded.path)


def path_info(agent: Agent, default_id: str) -> dict[str, Any]:
    path = config_path(agent)
    return {"path": str(path), "relativePath": path.name, "name": path.stem, "isDefault": agent.id == default_id}


def read_config(agent: Agent) -> dict[str, Any]:
    path = config_path(agent)
    try:
        text = path.read_text("utf-8")
        modified = path.stat().st_mtime
    except (OSError, UnicodeDecodeError) as exc:
        raise NotFoundError(f"cannot read the agent file {path.name}: {exc.__class__.__name__}",
                            code="agent_config_unreadable", details={"agentId": agent.id}) from None
    return {"yaml": redact_yaml_text(text), "path": str(path), "relativePath": path.name,
            "lastModified": dt.datetime.fromtimestamp(modified, dt.timezone.utc).isoformat().replace("+00:00", "Z"),
            "warnings": list(READ_WARNINGS)}


_WHERE = re.compile(r"line (\d+), column (\d+)")
_FIELD = re.compile(r"^`([^`]+)`")


def validate_text(text: str, agent: Agent | None, *, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The reference's validation answer: {valid, errors[{line?, column?, path?, message, code}],
    warnings[{path, message, code}]}. As `switchyard validate` checks a file (an unset
    environment variable is a warning here: the file may be fine where it runs)."""
    try:
        _check_aliases(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        return {"valid": False, "warnings": [], "errors": [
            {"line": mark.line + 1 if mark else 1, "column": mark.column + 1 if mark else 1,
             "message": f"YAML syntax error: {problem}", "code": "YAML_PARSE_ERROR"}]}
    if not isinstance(raw, dict):
        return {"valid": False, "warnings": [], "errors": [
            {"line": 1, "column": 1, "message": "Configuration must be a valid YAML object",
             "code": "INVALID_CONFIG_TYPE"}]}
    report, errors = _check(text, raw, agent, env=env, strict=False)
    warnings = [{"path": p, "message": "a secret in plain text: use an environment variable ($VAR) instead",
                 "code": "SECURITY_WARNING"} for p in secret_literals(raw)]
    for warning in report.warnings:
        field = _FIELD.match(warning)
        warnings.append({"path": field.group(1) if field else "root", "message": warning, "code": "CONFIG_WARNING"})
    return {"valid": not errors, "errors": errors, "warnings": warnings}


def _check_aliases(text: str) -> None:
    """Refuse many aliases: each is expanded when the tree is walked, so a few nested ones
    ("billion laughs") would make a small text enormous."""
    aliases = sum(1 for token in yaml.scan(text) if isinstance(token, yaml.AliasToken))
    if aliases > MAX_ALIASES:
        raise yaml.YAMLError(f"more than {MAX_ALIASES} aliases (*name)")


def _check(text: str, raw: dict[str, Any], agent: Agent | None, *, env: Mapping[str, str] | None,
           strict: bool) -> tuple[Any, list[dict[str, Any]]]:
    """The file check of `text` as the agent's file, and its errors in the reference's shape."""
    errors = [{"path": p, "message": "holds the redaction placeholder [REDACTED]: give the real value "
               "or an environment reference ($VAR)", "code": "SCHEMA_VALIDATION_ERROR"} for p in placeholders(raw)]
    report = check_file(_entry(agent), env=env, strict=strict, text=text)
    errors += [{"path": e.get("path") or "root", "message": e["message"], "code": "SCHEMA_VALIDATION_ERROR"}
               for e in report.errors]
    if agent is not None and report.loaded is not None and report.loaded.config.agentId != agent.id:
        errors.append(_id_changed(agent, report.loaded.config.agentId))
    return report, errors


def _entry(agent: Agent | None) -> AgentFile:
    if agent is None or not agent.loaded.path:
        return AgentFile(Path.cwd() / "agent.yml")
    registry = agent.id if agent.loaded.id_source == "registry" else None
    return AgentFile(Path(agent.loaded.path), registry_id=registry)


def _id_changed(agent: Agent, new_id: str) -> dict[str, Any]:
    return {"path": "agentId", "code": "SCHEMA_VALIDATION_ERROR",
            "message": f"the id of a served agent cannot change ({agent.id!r} -> {new_id!r}); "
                       "install the configuration as a new agent instead"}


def _changed_sections(old_text: str, new: dict[str, Any]) -> list[str]:
    try:
        old = yaml.safe_load(old_text) or {}
    except yaml.YAMLError:
        old = {}
    old = old if isinstance(old, dict) else {}
    return sorted(k for k in {*old, *new} if old.get(k) != new.get(k))


async def apply_text(host: AgentHost, agent: Agent, text: str, *,
                     env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Check `text` as the agent's new file (ConfigError listing every problem with its field
    path), start it, write the file atomically and serve it; the old agent's running turns
    finish as they began."""
    path = config_path(agent)
    async with change_lock(host):
        current = host.get(agent.id)        # the agent as it is now (a reload may have replaced it)
        checked = validate_text(text, current, env=env)   # YAML syntax and shape, with line and column
        if checked["errors"] and checked["errors"][0]["code"] != "SCHEMA_VALIDATION_ERROR":
            first = checked["errors"][0]
            raise ConfigError(first["message"], file=path.name, issues=[
                {"path": "", "message": first["message"], "line": first["line"], "column": first["column"]}])
        report, errors = _check(text, yaml.safe_load(text), current, env=env, strict=True)
        if errors or report.loaded is None:
            issues = [{"path": e["path"], "message": e["message"]} for e in errors]
            raise ConfigError(f"the configuration is not valid ({len(issues)} problem"
                              f"{'s' if len(issues) != 1 else ''})", issues=issues, file=path.name)
        old_text = path.read_text("utf-8") if path.exists() else ""
        new_agent = await replace(host, report.loaded, before_swap=lambda: write_atomically(path, text))
    changed = _changed_sections(old_text, yaml.safe_load(text))
    return {"ok": True, "path": str(path), "reloaded": True, "restarted": True,
            "changesApplied": changed or ["restart"],
            "message": f"Configuration saved and applied: agent {new_agent.id!r} now runs it (no server restart; "
                       "turns already running finish with the previous configuration)"}


def export_yaml(agent: Agent, llm: Any) -> str:
    """The effective configuration (with `llm` as the session or agent uses it) as YAML:
    secrets and values from the environment redacted."""
    config = agent.config.model_dump(mode="json", exclude_none=True)
    config["llm"] = llm.model_dump(mode="json", exclude_none=True)
    raw: Any = None
    if agent.loaded.path:
        try:
            raw = yaml.safe_load(Path(agent.loaded.path).read_text("utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            raw = None
    raw = raw if isinstance(raw, dict) else None
    if raw is not None and isinstance(raw.get("llm"), dict):
        # A session's own model: where it differs from the file's, the file's `$VAR` does not
        # describe it (its own key, for one, is held in memory and redacted).
        own = agent.config.llm.model_dump(mode="json", exclude_none=True)
        raw["llm"] = {k: v for k, v in raw["llm"].items() if config["llm"].get(k) == own.get(k)}
    return yaml.safe_dump(redact_tree(config, raw),
                          sort_keys=False, allow_unicode=True)
