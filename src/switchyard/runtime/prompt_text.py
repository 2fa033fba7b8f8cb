"""The text side of prompts, as the reference does it: reading a prompt file (front matter,
`argument-hint`), substituting arguments, and flattening a prompt's messages to one text.

Arguments, as GET /api/prompts/{name}/resolve takes them (`args` JSON, `context`):
- `$1`..`$9` take the positional arguments (`args._positional`, a list), `$ARGUMENTS` the
  ones no `$N` took, `$$` is a literal `$` (config and custom prompts);
- `{{name}}` takes the named argument `name` (custom prompts only, as in the reference);
- a prompt with no placeholder gets `Context: <context>` appended, or else
  `Arguments: k: v, ...` for the named arguments given.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

POSITIONAL = "_positional"
CONTEXT = "_context"
_ESCAPED_DOLLAR = "\x00DOLLAR\x00"
_RESOURCE_SCHEMES = ("mcp", "blob", "file", "http", "https")


def normalize_args(args: dict[str, Any], context: str | None) -> dict[str, Any]:
    """Every value as text (JSON for non-strings; nulls dropped), `_positional` kept as a list
    of texts, and the trimmed `context` as `_context` when it is not blank."""
    out: dict[str, Any] = {}
    for key, value in args.items():
        if key == CONTEXT:
            continue
        if key == POSITIONAL:
            if isinstance(value, list):
                out[POSITIONAL] = [v if isinstance(v, str) else json.dumps(v) for v in value]
            continue
        if isinstance(value, str):
            out[key] = value
        elif value is not None:
            out[key] = json.dumps(value)
    if context and context.strip():
        out[CONTEXT] = context.strip()
    return out


def map_positional(args: dict[str, Any], declared: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Positional arguments fill the declared arguments in order, where not given by name."""
    positional = args.get(POSITIONAL) or []
    if not positional or not declared:
        return args
    mapped = dict(args)
    for index, argument in enumerate(declared):
        if index < len(positional) and not mapped.get(argument["name"]):
            mapped[argument["name"]] = str(positional[index])
    return mapped


def expand_placeholders(content: str, args: dict[str, Any] | None) -> str:
    positional = (args or {}).get(POSITIONAL) or []
    out = content.replace("$$", _ESCAPED_DOLLAR)
    highest = max((i for i in range(1, 10) if f"${i}" in out), default=0)
    if "$ARGUMENTS" in out:
        out = out.replace("$ARGUMENTS", " ".join(positional[highest:]))
    for i in range(1, 10):
        out = out.replace(f"${i}", positional[i - 1] if i - 1 < len(positional) else "")
    return out.replace(_ESCAPED_DOLLAR, "$")


def _appended(text: str, args: dict[str, Any]) -> str:
    if args.get(CONTEXT):
        return f"{text}\n\nContext: {args[CONTEXT]}"
    named = [(k, v) for k, v in args.items() if not k.startswith("_")]
    if named:
        return text + "\n\nArguments: " + ", ".join(f"{k}: {v}" for k, v in named)
    return text


def apply_config_arguments(content: str, args: dict[str, Any]) -> str:
    """A config prompt (inline or file): positional placeholders, else appended context/arguments."""
    probe = content.replace("$$", "")
    positional_used = bool(re.search(r"\$[1-9](?!\d)", probe)) or "$ARGUMENTS" in probe
    expanded = expand_placeholders(content, args).strip()
    if not args or positional_used:
        return expanded
    return _appended(expanded, args)


def apply_custom_arguments(content: str, args: dict[str, Any],
                           declared: list[dict[str, Any]] | None) -> str:
    """A custom prompt: positional placeholders, then `{{name}}`; else appended context/arguments."""
    text = expand_placeholders(content, args)
    if not args:
        return text
    for key, value in args.items():
        if not key.startswith("_"):
            text = text.replace("{{" + key + "}}", str(value))
    positional_used = bool(re.search(r"\$[1-9]", content)) or "$ARGUMENTS" in content
    if declared:
        named_used = any(a.get("name") and "{{" + a["name"] + "}}" in content for a in declared)
    else:
        named_used = "{{" in content and "}}" in content
    if positional_used or named_used:
        return text
    return _appended(text, args)


def missing_required(declared: list[dict[str, Any]] | None, args: dict[str, Any]) -> list[str]:
    return [a["name"] for a in declared or [] if a.get("required") and a["name"] not in args]


# --- prompt files ---------------------------------------------------------------------------

def _front_value(line: str, key: str) -> str | None:
    match = re.search(key + r":\s*(?:['\"](.+)['\"]|(.+))", line)
    return (match.group(1) or match.group(2) or "").strip() if match else None


def parse_argument_hint(hint: str) -> list[dict[str, Any]]:
    """`[file] [focus?]` -> file (required), focus (optional)."""
    found = []
    for text in re.findall(r"\[([^\]]+)\]", hint):
        optional = text.endswith("?")
        name = (text[:-1] if optional else text).strip()
        if name:
            found.append({"name": name, "required": not optional})
    return found


def parse_prompt_file(raw: str, path: str) -> dict[str, Any]:
    """A markdown prompt: id (front matter, else the file name), title (front matter, else
    the first heading, else the id), description, category, priority, arguments (from
    `argument-hint`), userInvocable, and the content after the front matter."""
    lines = raw.strip().split("\n")
    default_id = Path(path).stem or "unknown"
    meta: dict[str, Any] = {"id": default_id, "title": default_id,
                            "description": f"File prompt: {default_id}"}
    body = raw
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), 0) if lines[0].strip() == "---" else 0
    if end:
        body = "\n".join(lines[end + 1:])
        for line in lines[1:end]:
            key = line.lstrip().split(":", 1)[0]
            value = _front_value(line, key) if key in ("id", "title", "description", "category", "priority",
                                                       "argument-hint", "user-invocable") else None
            if not value:
                continue
            if key == "priority":
                digits = re.match(r"-?\d+", value)
                if digits:
                    meta["priority"] = int(digits.group())
            elif key == "argument-hint":
                meta["arguments"] = parse_argument_hint(value)
            elif key == "user-invocable":
                if value in ("true", "false"):
                    meta["userInvocable"] = value == "true"
            else:
                meta[key] = value
    if meta["title"] == default_id:
        heading = next((ln.strip() for ln in body.strip().split("\n") if ln.strip().startswith("#")), None)
        if heading:
            meta["title"] = re.sub(r"^#+\s*", "", heading)
    meta["content"] = body.strip()
    return meta


# --- a prompt's messages as one text ----------------------------------------------------------

def _valid_link(uri: str) -> bool:
    return ":" not in uri or uri.split(":", 1)[0].lower() in _RESOURCE_SCHEMES


def _collect(content: Any, texts: list[str], uris: list[str]) -> None:
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for part in content:
            _collect(part, texts, uris)
    elif isinstance(content, dict):
        kind = content.get("type")
        if kind == "text" and isinstance(content.get("text"), str):
            texts.append(content["text"])
        elif kind == "resource" and isinstance(content.get("resource"), dict):
            resource = content["resource"]
            if isinstance(resource.get("text"), str):
                texts.append(resource["text"])
            if resource.get("uri"):
                uris.append(resource["uri"])
        elif kind == "resource_link":
            # MCP puts the link's uri on the part itself; older shapes nest it in `resource`.
            uri = content.get("uri") or (content.get("resource") or {}).get("uri")
            if isinstance(uri, str) and uri and _valid_link(uri):
                texts.append(f"@<{uri}>")
                uris.append(uri)
        # images, audio and other parts carry no text


def flatten_messages(messages: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """The texts of a prompt's messages joined by newlines, and the resource URIs it names."""
    texts: list[str] = []
    uris: list[str] = []
    for message in messages:
        _collect(message.get("content"), texts, uris)
    return "\n".join(t for t in texts if t).strip(), list(dict.fromkeys(uris))


def slugify(name: str) -> str:
    """A custom prompt's name: lower case, letters, digits and single hyphens."""
    slug = re.sub(r"[^a-z0-9\s\-_]", "", name.lower().strip())
    return re.sub(r"[\s\-_]+", "-", slug).strip("-")
