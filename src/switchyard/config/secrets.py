"""Which values of an agent configuration are secrets, and how to show a configuration
without them (GET /api/agent/config, /api/agent/config/export, /api/agent/validate).

A secret is a string at a field whose name says so (`apiKey`, `token`, `password`,
`authorization`, ...), any value of an MCP server's `env` or `headers`, and the password of
a URL (`postgres://user:PASSWORD@host`). A value that is only an environment reference
(`$OPENAI_API_KEY`, `${TOKEN}`) is not a secret: it names where the secret is, and is shown.

The file's text is redacted in place (the YAML parser gives each value's position), so its
comments and layout stay; the effective configuration is redacted as a tree.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import yaml

REDACTED = "[REDACTED]"

# `token` but not `tokens` (maxOutputTokens, budgetTokens are counts).
_SECRET_NAME = re.compile(r"(?i)(api[-_]?key|token(?!s)|secret|passw(or)?d|pwd|authorization|credential|"
                          r"private[-_]?key|access[-_]?key|cookie)")
# Every value under these keys is a secret (a stdio server's environment, an HTTP server's headers).
_SECRET_CONTAINERS = {"env", "headers"}
_ONLY_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$|^\$[A-Za-z_][A-Za-z0-9_]*$")
_URL_PASSWORD = re.compile(r"(?i)^([a-z][a-z0-9+.-]*://[^/@:\s]*:)[^/@\s]+@")


def is_secret_field(keys: tuple[str, ...]) -> bool:
    """Whether the value at this path of keys is a secret field."""
    if not keys:
        return False
    return bool(_SECRET_NAME.search(keys[-1])) or (len(keys) > 1 and keys[-2] in _SECRET_CONTAINERS)


def is_reference(value: str) -> bool:
    """`$VAR` or `${VAR}` alone: where a secret lives, not the secret."""
    return bool(_ONLY_REFERENCE.match(value.strip()))


def redact_value(keys: tuple[str, ...], value: str) -> str:
    """The value as it may be shown: a secret field's literal redacted, a URL's password too."""
    if is_reference(value):
        return value
    if is_secret_field(keys):
        return REDACTED
    return _URL_PASSWORD.sub(rf"\1{REDACTED}@", value)


def _path(keys: tuple[Any, ...]) -> str:
    out = ""
    for key in keys:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


def _walk(node: Any, keys: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every scalar node of a composed YAML document, with its path of keys."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            yield from _walk(value_node, keys + (str(key_node.value),))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, keys + (index,))
    elif isinstance(node, yaml.ScalarNode):
        yield keys, node


def redact_yaml_text(text: str) -> str:
    """The file's text with every secret literal replaced by "[REDACTED]" (quoted), comments
    and layout kept. Text that is not valid YAML is returned with every line redacted
    that looks like it carries a secret (it cannot be parsed to find them precisely)."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return "\n".join(_redact_line(line) for line in text.splitlines())
    spans: list[tuple[int, int, str]] = []
    for keys, node in _walk(root) if root is not None else ():
        value = node.value
        if not value or node.tag == "tag:yaml.org,2002:null":
            continue
        shown = redact_value(tuple(str(k) for k in keys), str(value))
        if shown != value:
            spans.append((node.start_mark.index, node.end_mark.index, _quoted(shown)))
    for start, end, replacement in sorted(spans, reverse=True):
        original = text[start:end]
        keep = original[len(original.rstrip()):]   # a block scalar's span ends with its newlines
        text = text[:start] + replacement + keep + text[end:]
    return text


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _redact_line(line: str) -> str:
    key, sep, rest = line.partition(":")
    if sep and rest.strip() and _SECRET_NAME.search(key) and not is_reference(rest.strip()):
        return f'{key}: "{REDACTED}"'
    return _URL_PASSWORD.sub(rf"\1{REDACTED}@", line)


def redact_tree(tree: Any, raw: Any = None, keys: tuple[Any, ...] = ()) -> Any:
    """The effective configuration as it may be shown: secrets redacted, and every value that
    came from the environment shown as its reference (`raw`: the file's tree before `$VAR`
    expansion, at the same place)."""
    if isinstance(tree, dict):
        return {k: redact_tree(v, raw.get(k) if isinstance(raw, dict) else None, keys + (str(k),))
                for k, v in tree.items()}
    if isinstance(tree, list):
        return [redact_tree(v, raw[i] if isinstance(raw, list) and i < len(raw) else None, keys + (i,))
                for i, v in enumerate(tree)]
    if isinstance(tree, str):
        names = tuple(str(k) for k in keys)
        if isinstance(raw, str) and "$" in raw and raw != tree:
            # Resolved from the environment: never the resolved value.
            return raw if is_reference(raw) or not is_secret_field(names) else REDACTED
        return redact_value(names, tree)
    return tree


def secret_literals(raw: Any, keys: tuple[Any, ...] = ()) -> list[str]:
    """The paths of secret fields that hold a literal (not a `$VAR` reference)."""
    found: list[str] = []
    if isinstance(raw, dict):
        for k, v in raw.items():
            found.extend(secret_literals(v, keys + (str(k),)))
    elif isinstance(raw, list):
        for i, v in enumerate(raw):
            found.extend(secret_literals(v, keys + (i,)))
    elif isinstance(raw, str) and raw and is_secret_field(tuple(str(k) for k in keys)) \
            and not is_reference(raw) and "$" not in raw:
        found.append(_path(keys))
    return found


def placeholders(raw: Any, keys: tuple[Any, ...] = ()) -> list[str]:
    """The paths that hold the redaction placeholder (a redacted configuration posted back)."""
    found: list[str] = []
    if isinstance(raw, dict):
        for k, v in raw.items():
            found.extend(placeholders(v, keys + (str(k),)))
    elif isinstance(raw, list):
        for i, v in enumerate(raw):
            found.extend(placeholders(v, keys + (i,)))
    elif isinstance(raw, str) and REDACTED in raw:
        found.append(_path(keys))
    return found
