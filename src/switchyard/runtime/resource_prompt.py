"""The system prompt's `resources` contributor (`{type: dynamic, source: resources}`): the
agent's resources (the catalog of GET /api/resources: its `resources:` entries, its MCP
servers' resources, its kept files) with their text, rendered for each turn as the
reference's `getResourceData` does:

    <resources>
    <resource uri="..." name="...">text</resource>
    </resources>

Bounded, because it goes to the model with every turn: at most `MAX_RESOURCES` resources and
`MAX_CHARS_PER_RESOURCE` characters of each (the cut is marked), `MAX_TOTAL_CHARS` in all. A
binary resource is named, not inlined (the reference pastes its base64: tokens for nothing).
A resource that cannot be read says so in its place; it never fails the turn.
"""

from __future__ import annotations

import asyncio
import html
import logging
from typing import Any, Awaitable, Callable

from switchyard.runtime.prompt import date_section, per_turn_contributors
from switchyard.runtime.resources import AgentResources

log = logging.getLogger("switchyard.agent")

MAX_RESOURCES = 50
MAX_CHARS_PER_RESOURCE = 20_000
MAX_TOTAL_CHARS = 100_000


def _text_of(uri: str, result: dict[str, Any]) -> str:
    contents = result.get("contents") or []
    first = contents[0] if contents else {}
    text = first.get("text")
    if isinstance(text, str):
        if len(text) > MAX_CHARS_PER_RESOURCE:
            cut = len(text) - MAX_CHARS_PER_RESOURCE
            return f"{text[:MAX_CHARS_PER_RESOURCE]}\n[... {cut} more characters not included]"
        return text
    if first.get("blob") is not None:
        return f"[binary content ({first.get('mimeType') or 'unknown type'}): not included]"
    return "[no content]"


async def _one(catalog: AgentResources, entry: dict[str, Any]) -> str:
    uri = entry["uri"]
    attributes = f'uri="{html.escape(uri)}" name="{html.escape(entry.get("name") or uri)}"'
    try:
        text = _text_of(uri, await catalog.read(uri, listed=True))   # from catalog.list()
    except Exception as exc:  # noqa: BLE001 - one unreadable resource must not fail the turn
        log.warning("system prompt: resource %s could not be read: %s", uri, exc)
        text = f"Error loading resource: {str(exc)[:200]}"
    return f"<resource {attributes}>{text}</resource>"


async def resources_section(agent: Any) -> str:
    """The section's text; empty when the agent has no resources."""
    catalog = AgentResources(agent)
    try:
        listed = await catalog.list()
    except Exception as exc:  # noqa: BLE001 - a failing listing leaves the section out, not the turn
        log.warning("system prompt: the agent's resources could not be listed: %s", exc)
        return ""
    if not listed:
        return ""
    parts = await asyncio.gather(*(_one(catalog, e) for e in listed[:MAX_RESOURCES]))
    kept, total = [], 0
    for part in parts:
        if total + len(part) > MAX_TOTAL_CHARS:
            break
        kept.append(part)
        total += len(part)
    left_out = len(listed) - len(kept)
    if left_out:
        kept.append(f"[{left_out} more resource{'s' if left_out > 1 else ''} not included]")
    return "<resources>\n" + "\n".join(kept) + "\n</resources>"


def per_turn_renderers(agent: Any) -> list[tuple[str, int, Callable[[], Awaitable[str]]]]:
    """The agent file's `date` and `resources` contributors as SystemPrompt takes
    them (set_base: `per_turn`): (id, priority, render) each."""
    async def render_date() -> str:
        return date_section()

    def renderer(source: str) -> Callable[[], Awaitable[str]]:
        return (lambda: resources_section(agent)) if source == "resources" else render_date
    return [(c.id, c.priority, renderer(c.source)) for c in per_turn_contributors(agent.config)]
