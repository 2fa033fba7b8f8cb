"""An agent's prompts, from three sources, as the reference's prompt manager lists and resolves
them (runtime/prompt_text.py has the text rules):

- `mcp`: the prompts of the agent's connected MCP servers, resolved by the server (get_prompt);
- `config`: the agent file's `prompts` (inline, or a markdown file), named `config:<id>`
  (`config:<namespace>:<id>`), with `commandName` `<id>`;
- `custom`: made with POST /api/prompts/custom, kept in the agent's database.

Names: a prompt keeps its own name unless another prompt has the same one; then each is
named `<source>:<name>`, and the prompts of MCP servers sharing a name `mcp:<server>:<name>`. A prompt is found by
that name, its original name, its `commandName`, or any of these with a leading `/`.
`commandName` is the display name, or `<source>:<display name>` when two prompts share it.

Nothing is cached: every call reads the config files, the custom prompts and the servers'
lists afresh, so the answer is always current (a server connecting, a file edited).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from switchyard.config.schema import FilePrompt, InlinePrompt
from switchyard.errors import NotFoundError, RequestError
from switchyard.runtime import prompt_text as pt
from switchyard.runtime.resources import gather_per_server

if TYPE_CHECKING:
    from switchyard.runtime.agent import Agent

log = logging.getLogger("switchyard.agent")

MAX_PROMPT_FILE_BYTES = 512 * 1024
_KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SOURCES = ("mcp", "config", "custom")


@dataclass
class PromptEntry:
    provider: str                      # mcp | config | custom
    original: str                      # the name its source knows it by
    info: dict[str, Any]               # what GET /api/prompts lists
    content: str | None = None         # config prompts: the text
    record: dict[str, Any] | None = None   # custom prompts: the stored row
    connection: Any = None             # MCP prompts: the server's connection


_warned: set[str] = set()


def _warn_once(message: str, *args: Any) -> None:
    """Prompts are read on every request: say what is wrong with a file once, not each time."""
    text = message % args
    if text not in _warned:
        _warned.add(text)
        log.warning(text)


def prompt_not_found(name: str) -> NotFoundError:
    return NotFoundError(f"Prompt not found: {name}", code="prompt_not_found", details={"name": name})


# --- the three sources ---------------------------------------------------------------------

def _mcp_entries(server: Any, listed: list[dict[str, Any]]) -> list[PromptEntry]:
    entries = []
    for prompt in listed:
        name = prompt["name"]
        definition = {k: prompt[k] for k in ("name", "title", "description", "arguments") if prompt.get(k)}
        info: dict[str, Any] = {"name": name, "displayName": name,
                                "title": prompt.get("title") or prompt.get("description") or f"MCP prompt: {name}",
                                "description": prompt.get("description") or f"MCP prompt: {name}",
                                "source": "mcp",
                                "metadata": {"serverName": server.name, "originalName": name, **definition}}
        if prompt.get("arguments"):
            info["arguments"] = [{k: a[k] for k in ("name", "description", "required") if k in a}
                                 for a in prompt["arguments"]]
        entries.append(PromptEntry("mcp", name, info, connection=server))
    return entries


def _inline_entry(prompt: InlinePrompt) -> PromptEntry:
    info: dict[str, Any] = {"name": f"config:{prompt.id}", "displayName": prompt.id, "title": prompt.title,
                            "description": prompt.description, "source": "config",
                            "userInvocable": prompt.user_invocable,
                            "metadata": {"type": "inline", "category": prompt.category, "priority": prompt.priority,
                                         "showInStarters": prompt.showInStarters, "originalId": prompt.id}}
    return PromptEntry("config", info["name"], info, content=prompt.prompt)


def _file_entry(prompt: FilePrompt, agent_dir: str) -> PromptEntry | None:
    path = Path(prompt.file) if os.path.isabs(prompt.file) else Path(agent_dir) / prompt.file
    if path.name == "SKILL.md":
        _warn_once("prompt file %s is a skill (SKILL.md): skipped, see GET /api/skills", path)
        return None
    try:
        # The file must be in its folder once links are followed (no escape by a symlink).
        if path.resolve().parent != path.parent.resolve():
            _warn_once("prompt file %s: skipped, it links outside its folder", path)
            return None
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            raw = handle.read(MAX_PROMPT_FILE_BYTES)
    except OSError as exc:
        _warn_once("prompt file %s: skipped, it cannot be read (%s)", path, exc.strerror or exc)
        return None
    parsed = pt.parse_prompt_file(raw, str(path))
    if not _KEBAB.match(parsed["id"]):
        _warn_once("prompt file %s: skipped, its id %r is not kebab-case", path, parsed["id"])
        return None
    name = f"config:{prompt.namespace}:{parsed['id']}" if prompt.namespace else f"config:{parsed['id']}"
    info: dict[str, Any] = {"name": name, "displayName": parsed["id"], "title": parsed["title"],
                            "description": parsed["description"], "source": "config"}
    if parsed.get("arguments"):
        info["arguments"] = parsed["arguments"]
    invocable = prompt.user_invocable if prompt.user_invocable is not None else parsed.get("userInvocable")
    if invocable is not None:
        info["userInvocable"] = invocable
    metadata = {"type": "file", "filePath": str(path), "category": parsed.get("category"),
                "priority": parsed.get("priority"), "showInStarters": prompt.showInStarters,
                "originalId": parsed["id"], "namespace": prompt.namespace}
    info["metadata"] = {k: v for k, v in metadata.items() if v is not None}
    return PromptEntry("config", name, info, content=parsed["content"])


def config_entries(prompts: list[Any], agent_dir: str) -> list[PromptEntry]:
    """The agent file's prompts, highest `priority` first (as the reference orders them)."""
    entries = [_inline_entry(p) if isinstance(p, InlinePrompt) else _file_entry(p, agent_dir) for p in prompts]
    found = [e for e in entries if e is not None]
    return sorted(found, key=lambda e: -(e.info["metadata"].get("priority") or 0))


def custom_entry(record: dict[str, Any]) -> PromptEntry:
    resource_meta = record.get("resourceMetadata") or {}
    metadata: dict[str, Any] = {"originalName": resource_meta.get("originalName") or record["name"]}
    if record.get("resourceUri"):
        metadata["resourceUri"] = record["resourceUri"]
    if resource_meta.get("mimeType"):
        metadata["mimeType"] = resource_meta["mimeType"]
    metadata.update(createdAt=record["createdAt"], updatedAt=record["updatedAt"])
    info: dict[str, Any] = {"name": record["name"], "displayName": record["name"], "title": record.get("title"),
                            "description": record.get("description"), "source": "custom", "metadata": metadata}
    if record.get("arguments"):
        info["arguments"] = record["arguments"]
    return PromptEntry("custom", record["name"], info, record=record)


# --- one index over them ---------------------------------------------------------------------

def _clean(entry: PromptEntry) -> None:
    info = entry.info
    for key in [k for k, v in info.items() if v is None]:
        del info[key]
    metadata = {k: v for k, v in (info.get("metadata") or {}).items() if k not in ("content", "prompt", "messages")}
    metadata.setdefault("originalName", entry.original)
    metadata["provider"] = entry.provider
    info["metadata"] = metadata


def build_index(entries: list[PromptEntry]) -> tuple[dict[str, PromptEntry], dict[str, str]]:
    """Every prompt by its unique name, and the other names it is found by."""
    for entry in entries:
        _clean(entry)
    shown = Counter(e.info.get("displayName") or e.info["name"] for e in entries)
    for entry in entries:
        display = entry.info.get("displayName") or entry.info["name"]
        entry.info["commandName"] = f"{entry.provider}:{display}" if shown[display] > 1 else display
    names = Counter(e.original for e in entries)
    mcp_names = Counter(e.original for e in entries if e.provider == "mcp")
    index: dict[str, PromptEntry] = {}
    aliases: dict[str, str] = {}
    for entry in entries:
        key = entry.original
        if names[key] > 1 and entry.provider == "mcp" and mcp_names[key] > 1:
            key = f"mcp:{entry.connection.name}:{key}"
        elif names[key] > 1:
            key = f"{entry.provider}:{key}"
        if key in index:   # e.g. two inline prompts of one id in the agent file: the first wins
            _warn_once("two prompts are named %r: only the first is listed", key)
            continue
        entry.info["name"] = key
        index[key] = entry
        aliases[entry.original] = key
        for candidate in (entry.info["metadata"].get("originalName"), entry.info["commandName"]):
            if isinstance(candidate, str) and candidate and candidate not in aliases:
                aliases[candidate] = key
    return index, aliases


class PromptCatalog:
    """The prompts of `agent`. Cheap: one per call."""

    def __init__(self, agent: "Agent") -> None:
        self.agent = agent

    async def _index(self) -> tuple[dict[str, PromptEntry], dict[str, str]]:
        config = await asyncio.to_thread(config_entries, list(self.agent.config.prompts), self.agent.loaded.agent_dir)
        mcp = [e for connection, listed in await gather_per_server(self.agent, "prompts")
               for e in _mcp_entries(connection, listed)]
        custom = [custom_entry(r) for r in await self.agent.store.prompts.list(self.agent.id)]
        return build_index(mcp + config + custom)

    async def list(self) -> list[dict[str, Any]]:
        index, _ = await self._index()
        return [entry.info for entry in index.values()]

    async def find(self, name: str) -> PromptEntry:
        index, aliases = await self._index()
        if name in index:
            return index[name]
        key = aliases.get(name) or aliases.get(name.removeprefix("/"))
        if key is None or key not in index:
            raise prompt_not_found(name)
        return index[key]

    async def definition(self, name: str) -> dict[str, Any]:
        info = (await self.find(name)).info
        definition: dict[str, Any] = {"name": info["name"]}
        for key in ("title", "description", "arguments"):
            if info.get(key):
                definition[key] = info[key]
        if info.get("userInvocable") is not None:
            definition["userInvocable"] = info["userInvocable"]
        return definition

    async def resolve(self, name: str, *, context: str | None = None,
                      args: dict[str, Any] | None = None) -> dict[str, Any]:
        """{text, resources}: the prompt with its arguments applied."""
        entry = await self.find(name)
        given = pt.map_positional(pt.normalize_args(args or {}, context), entry.info.get("arguments"))
        if entry.provider == "mcp":
            messages = await self._mcp_messages(entry, given)
        elif entry.provider == "config":
            messages = [_user_text(pt.apply_config_arguments(entry.content or "", given))]
        else:
            messages = await self._custom_messages(entry, given)
        text, resources = pt.flatten_messages(messages)
        if not text and not resources:
            raise NotFoundError(f"Prompt resolved to empty content: {entry.info['name']}",
                                code="prompt_empty_content", details={"name": entry.info["name"]})
        return {"text": text, "resources": resources}

    async def _mcp_messages(self, entry: PromptEntry, given: dict[str, Any]) -> list[dict[str, Any]]:
        declared = {a["name"] for a in entry.info.get("arguments") or []}
        # Only the arguments the prompt declares go to the server, as text; never `_` keys.
        arguments = {k: str(v) for k, v in given.items()
                     if not k.startswith("_") and (not declared or k in declared)}
        _require(entry, arguments)
        result = await entry.connection.get_prompt(entry.original, arguments)
        return list(result.get("messages") or [])

    async def _custom_messages(self, entry: PromptEntry, given: dict[str, Any]) -> list[dict[str, Any]]:
        record = entry.record or {}
        _require(entry, given)
        messages = [_user_text(pt.apply_custom_arguments(record["content"], given, record.get("arguments")))]
        uri = record.get("resourceUri")
        if uri:
            blob = await self.agent.store.prompts.blob(self.agent.id, uri, with_data=False)
            if blob is not None:
                messages.append({"role": "user", "content": {"type": "resource",
                                                             "resource": {"uri": uri, "mimeType": blob["mimeType"]}}})
        return messages

    async def create_custom(self, prompt: dict[str, Any], resource: dict[str, Any] | None) -> dict[str, Any]:
        """The new prompt as listed. `prompt["name"]` is made a slug ("Code Review!" -> code-review)."""
        name = pt.slugify(prompt["name"])
        if not name:
            raise RequestError("Prompt name is required: the name has no letters or digits",
                               code="prompt_name_required", details={"issues": [
                                   {"path": "name", "message": "needs at least one letter or digit"}]})
        if len(name) > 100:
            raise RequestError("name: at most 100 characters", code="prompt_invalid_name",
                               details={"issues": [{"path": "name", "message": "at most 100 characters"}]})
        if not prompt["content"].strip():
            raise RequestError("Prompt missing text content", code="prompt_missing_text",
                               details={"issues": [{"path": "content", "message": "is blank"}]})
        await self.agent.store.prompts.create(self.agent.id, {**prompt, "name": name}, resource=resource)
        index, _ = await self._index()
        created = next(e for e in index.values() if e.provider == "custom" and e.original == name)
        return created.info

    async def delete_custom(self, name: str) -> None:
        await self.agent.store.prompts.delete(self.agent.id, name.removeprefix("custom:"))


def _user_text(text: str) -> dict[str, Any]:
    return {"role": "user", "content": {"type": "text", "text": text}}


def _require(entry: PromptEntry, given: dict[str, Any]) -> None:
    missing = pt.missing_required(entry.info.get("arguments"), given)
    if missing:
        raise RequestError(f"Missing required arguments: {', '.join(missing)}",
                           code="prompt_missing_required_arguments",
                           details={"missing": missing, "prompt": entry.info["name"]})
