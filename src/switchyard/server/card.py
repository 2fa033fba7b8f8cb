"""The A2A agent card, built from the agent config (overrides from its `agentCard`)."""

from __future__ import annotations

from typing import Any

from switchyard import __version__

DEFAULT_DESCRIPTION = "A Switchyard agent, reachable over REST, A2A, MCP and an OpenAI-compatible API."


def build_card(agent: Any, base_url: str, *, auth_required: bool, path_prefix: str = "") -> dict[str, Any]:
    config = agent.config
    overrides = config.agentCard.model_dump(exclude_none=True) if config.agentCard else {}
    description = overrides.pop("description", None) or config.description or DEFAULT_DESCRIPTION
    skills = overrides.pop("skills", None) or [{
        "id": "chat_with_agent",
        "name": "chat_with_agent",
        "description": description,
        "tags": ["chat", "AI", "assistant", "mcp", "natural language"],
        "examples": (config.routing.examples[:2] or ["Hello, what can you do?", "Help me with a task"]),
        "inputModes": ["text/plain"],
        "outputModes": ["text/plain"],
    }]
    card: dict[str, Any] = {
        "protocolVersion": "0.3.0",
        "name": overrides.pop("name", None) or config.agentId,
        "description": description,
        "url": overrides.pop("url", None) or f"{base_url}{path_prefix}/jsonrpc",
        "version": overrides.pop("version", None) or "1.0.0",
        "preferredTransport": "JSONRPC",
        "defaultInputModes": ["application/json", "text/plain"],
        "defaultOutputModes": ["application/json", "text/event-stream", "text/plain"],
        "capabilities": {"streaming": True, "pushNotifications": False, "stateTransitionHistory": False},
        "skills": skills,
        "provider": {"organization": "Switchyard", "url": base_url},
        "metadata": {"switchyard": {"version": __version__, "agentId": config.agentId}},
    }
    if auth_required:
        card["securitySchemes"] = {"bearerAuth": {"type": "http", "scheme": "bearer",
                                                  "description": "Authorization: Bearer <api-key>"}}
        card["security"] = [{"bearerAuth": []}]
    card.update(overrides)
    return card
