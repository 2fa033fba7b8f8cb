"""`@resource` mentions in a user message, expanded with the resource's content before the turn
(the reference's resources/reference-parser.ts and DextoAgent.stream).

A mention is an `@` at the start of the message or after whitespace (so `user@example.com` is
not one), in one of three forms:

- `@<uri>`: a resource's URI exactly (`@<mcp:docs:file:///readme.md>`, `@</srv/app/README.md>`),
  else the resource whose `metadata.originalUri` is that URI, else one whose originalUri holds it;
- `@server:name`: a resource of that MCP server whose name is or holds `name`, else whose URI does;
- `@name`: the first resource whose name is or holds `name` (case-insensitive), else whose URI does.

A resolved mention is replaced (everywhere it occurs) by the resource's text between
`--- Content from resource: <name> (<uri>) ---` and `--- End of resource content ---`; a binary
item the session's model takes (its supported file types) becomes an image or file part of the
message and the mention is removed from the text. A mention that matches nothing, or whose
resource cannot be read (refused, gone, its server down), stays as typed and is logged.

Resources are listed and read through runtime/resources.AgentResources, the same catalog and
checks as GET /api/resources/{uri}/content: only what is listed resolves, never a path outside
the configured resources, files at most 10 MiB. Unlike the reference (which only warns), an
expansion that would grow the message past MAX_EXPANDED_BYTES leaves that mention as typed.

As in the reference, the expanded message is what the session stores: later turns (and the
history) see the content the model saw, not a mention that could read differently tomorrow.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from switchyard.errors import NotFoundError, SwitchyardError
from switchyard.runtime.resources import AgentResources

log = logging.getLogger("switchyard.agent")

MAX_EXPANDED_BYTES = 5 * 1024 * 1024
MENTION = re.compile(r"(?:^|(?<=\s))@(?:(<[^>]+>)|([a-zA-Z0-9_-]+):([a-zA-Z0-9._/-]+)|([a-zA-Z0-9._/-]+))"
                     r"(?![a-zA-Z0-9@.])")
# The model's supported file types (llm/capabilities.py) as MIME patterns, as the reference maps them.
_FILE_TYPE_MIME = {
    "image": ("image/*",), "pdf": ("application/pdf",), "audio": ("audio/*",), "video": ("video/*",),
    "document": ("text/*", "application/json", "application/xml", "application/msword", "application/rtf",
                 "application/vnd.oasis.opendocument.text", "application/vnd.ms-powerpoint",
                 "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                 "application/vnd.ms-excel",
                 "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "application/vnd.openxmlformats-officedocument.wordprocessingml.document")}


@dataclass
class Mention:
    original: str              # as typed, e.g. "@README.md"
    kind: str                  # "uri" | "server-scoped" | "name"
    identifier: str
    server: str | None = None
    uri: str | None = None     # the resource it resolved to


def parse_mentions(text: str) -> list[Mention]:
    found = []
    for m in MENTION.finditer(text):
        bracketed, server, scoped, name = m.groups()
        if bracketed:
            found.append(Mention(m.group(0), "uri", bracketed[1:-1]))
        elif server and scoped:
            found.append(Mention(m.group(0), "server-scoped", scoped, server=server))
        elif name:
            found.append(Mention(m.group(0), "name", name))
    return found


def _original_uri(entry: dict[str, Any]) -> str | None:
    value = (entry.get("metadata") or {}).get("originalUri")
    return value if isinstance(value, str) else None


def _by_name(entries: dict[str, dict[str, Any]], identifier: str) -> str | None:
    wanted = identifier.strip().lower()
    for uri, entry in entries.items():
        name = (entry.get("name") or "").strip().lower()
        if name and (name == wanted or wanted in name):
            return uri
    for uri, entry in entries.items():
        if wanted in (_original_uri(entry) or "").lower() or wanted in uri.lower():
            return uri
    return None


def resolve(mention: Mention, entries: dict[str, dict[str, Any]]) -> str | None:
    """The URI of the listed resource `mention` names, or None."""
    if mention.kind == "uri":
        if mention.identifier in entries:
            return mention.identifier
        wanted = mention.identifier.strip().lower()
        for exact in (True, False):
            for uri, entry in entries.items():
                original = (_original_uri(entry) or "").lower()
                if original and (original == wanted if exact else wanted in original):
                    return uri
        return None
    if mention.kind == "server-scoped":
        return _by_name({u: e for u, e in entries.items() if e.get("serverName") == mention.server},
                        mention.identifier)
    return _by_name(entries, mention.identifier)


def format_content(uri: str, name: str, content: dict[str, Any]) -> str:
    parts = [f"\n--- Content from resource: {name} ({uri}) ---"]
    for item in content.get("contents", []):
        if isinstance(item.get("text"), str) and item["text"]:
            parts.append(item["text"])
        elif item.get("blob"):
            parts.append(f"[Binary content: {item.get('mimeType') or 'unknown'}, {len(item['blob'])} bytes]")
    parts.append("--- End of resource content ---\n")
    return "\n".join(parts)


def _allowed(mime: str, patterns: list[str]) -> bool:
    mime = mime.strip().lower()
    return any(p == "*/*" or (p.endswith("/*") and mime.split("/")[0] == p[:-2]) or mime == p for p in patterns)


def _media_part(item: dict[str, Any], name: str) -> dict[str, Any]:
    if item["mimeType"].lower().startswith("image/"):
        return {"type": "image", "image": item["blob"], "mimeType": item["mimeType"]}
    return {"type": "file", "data": item["blob"], "mimeType": item["mimeType"], "filename": name}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")


async def expand_mentions(resources: AgentResources, content: Any, media_types: list[str]) -> Any:
    """`content` (a string or a list of parts) with its mentions expanded; `content` itself when
    it has none that resolve."""
    text = _text_of(content)
    mentions = parse_mentions(text) if "@" in text else []
    if not mentions:
        return content
    entries = {entry["uri"]: entry for entry in await resources.list()}
    expanded, media, missed = text, [], []
    for mention in mentions:
        mention.uri = resolve(mention, entries)
        if mention.uri is None:
            missed.append(mention.original)
            continue
        try:
            read = await resources.read(mention.uri, listed=True)   # resolved from the listing above
        except Exception as exc:  # noqa: BLE001 - refused, gone, a server down: this mention stays as typed
            level = logging.WARNING if isinstance(exc, (SwitchyardError, OSError)) else logging.ERROR
            log.log(level, "resource mention %s: %s could not be read: %s", mention.original, mention.uri, exc)
            missed.append(mention.original)
            continue
        name = entries[mention.uri].get("name") or mention.identifier
        taken = [item for item in read.get("contents", [])
                 if isinstance(item.get("blob"), str) and item.get("mimeType") and _allowed(item["mimeType"], media_types)]
        if taken:
            media.extend(_media_part(item, name) for item in taken)
            candidate = re.sub(r"\s{2,}", " ", expanded.replace(mention.original, " ")).strip()
        else:
            candidate = expanded.replace(mention.original, format_content(mention.uri, name, read))
        if len(candidate.encode()) > MAX_EXPANDED_BYTES:
            log.warning("resource mention %s left as typed: the message would exceed %d bytes",
                        mention.original, MAX_EXPANDED_BYTES)
            missed.append(mention.original)
            continue
        expanded = candidate
    if missed:
        log.warning("could not resolve %d resource reference(s): %s", len(missed), ", ".join(missed))
    if expanded == text and not media:
        return content
    others = [] if isinstance(content, str) else [p for p in content if not (isinstance(p, dict) and p.get("type") == "text")]
    if isinstance(content, str) and not media and expanded.strip():
        return expanded
    parts = ([{"type": "text", "text": expanded}] if expanded.strip() else []) + others + media
    return parts or content


def media_types_of(provider: str, model: str) -> list[str]:
    """The MIME patterns the model takes as files (none for a provider the catalog lacks)."""
    from switchyard.llm.capabilities import capabilities
    try:
        file_types = capabilities(provider, model)["supportedFileTypes"]
    except KeyError:
        return []
    return [pattern for t in file_types for pattern in _FILE_TYPE_MIME.get(t, ())]


async def expand_user_mentions(agent: Any, session_id: str, content: Any) -> Any:
    """Runs.expand for `agent`: a failure keeps the message as typed, as in the reference."""
    try:
        if "@" not in _text_of(content):
            return content
        try:
            cfg = await agent.llm_config(session_id)
        except NotFoundError:    # a new session: the agent's model
            cfg = agent.config.llm
        return await expand_mentions(AgentResources(agent), content, media_types_of(cfg.provider, cfg.model))
    except Exception:  # noqa: BLE001 - the message goes on unexpanded
        log.exception("expanding resource mentions failed; the message goes on as typed")
        return content
