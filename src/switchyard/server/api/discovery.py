"""`GET /api/discovery` (the reference's): what an agent file may configure on this server —
storage backends, compaction strategies, tool families, and the built-in tools — read from the
code that implements them, so the answer cannot list what the server does not have."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict

from switchyard.server.routes import RouteGroup

routes = RouteGroup(tags=["meta"], order=95)


class FactoryMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")
    displayName: str | None = None
    description: str | None = None


class DiscoveredFactory(BaseModel):
    type: str
    category: Literal["storage", "compaction", "tools"]
    metadata: FactoryMetadata | None = None


class BuiltinToolInfo(BaseModel):
    name: str
    description: str


class Discovery(BaseModel):
    storage: list[DiscoveredFactory]
    compaction: list[DiscoveredFactory]
    toolFactories: list[DiscoveredFactory]
    builtinTools: list[BuiltinToolInfo]


# storage type -> (display name, description): the database and cache types of the agent
# file's `storage` block (config/schema.py).
_STORAGE = {
    "sqlite": ("SQLite", "A database file on this machine (the default)."),
    "postgres": ("PostgreSQL", "A shared database: several replicas serve the same sessions."),
    "in-memory": ("In memory", "Nothing kept after the server stops (tests, demos)."),
    "redis": ("Redis (cache)", "Events, locks and rate limits shared between replicas."),
}
_COMPACTION = {
    "reactive-overflow": ("Summarise when full", "Summarises the oldest turns when the context is "
                          "nearly full, keeping the last turns verbatim."),
    "noop": ("Drop oldest", "No summary: the oldest turns leave the model's context, with a marker."),
}
_TOOL_FAMILIES = {
    "filesystem-tools": "Read, write, edit and search files inside the allowed paths.",
    "process-tools": "Run shell commands in the agent's folder, in the foreground or background.",
    "todo-tools": "A todo list the agent keeps while it works.",
    "plan-tools": "A plan the agent writes and the user reviews.",
    "agent-spawner": "Sub-agents the agent starts for a task.",
    "lifecycle-tools": "The agent's own history and memories.",
    "builtin-tools": "ask_user, http_request, delegate_to_url, skills, sleep, search_history.",
    "scheduler-tools": "Schedules the agent creates and manages itself.",
}


def _factory(kind: str, category: str, display: str, description: str) -> dict[str, Any]:
    return {"type": kind, "category": category, "metadata": {"displayName": display, "description": description}}


@cache   # what the code implements does not change while it runs
def discovery() -> dict[str, Any]:
    from switchyard.config.tools_schema import BuiltinToolsConfig, TOOL_FAMILY_TYPES
    from switchyard.tools.builtin.general import GeneralTools

    # The builtin-tools family with every tool enabled; search_history needs a search service
    # only when it is called, so any non-None stands in for it here.
    general = GeneralTools(BuiltinToolsConfig(type="builtin-tools"), approvals=lambda: None,
                           search_history=object())  # type: ignore[arg-type]
    return {
        "storage": [_factory(k, "storage", *v) for k, v in _STORAGE.items()],
        "compaction": [_factory(k, "compaction", *v) for k, v in _COMPACTION.items()],
        "toolFactories": [_factory(k, "tools", k, _TOOL_FAMILIES.get(k, "")) for k in TOOL_FAMILY_TYPES],
        "builtinTools": [{"name": t.name, "description": t.description} for t in general.tools()],
    }


@routes.get("/api/discovery", scope="read", response_model=Discovery,
            summary="What agent files may configure here: storage, compaction, tool families, built-in tools")
async def get_discovery(request: Request) -> dict[str, Any]:
    return discovery()
