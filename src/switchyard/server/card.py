"""The A2A agent card, built from the agent config (overrides from its `agentCard`).

The card names the agent's JSON-RPC endpoint in `url` (A2A 0.3) and in `supportedInterfaces`
(A2A 1.0, once per protocol version the endpoint speaks), so both generations of clients find
it. Skills come from `agentCard.skills` when the config lists them, else one `chat_with_agent`
skill described by the agent's description and routing hints.
"""

from __future__ import annotations

from typing import Any

from switchyard import __version__

DEFAULT_DESCRIPTION = "A Switchyard agent, reachable over REST, A2A, MCP and an OpenAI-compatible API."
DEFAULT_EXAMPLES = ["Hello, what can you do?", "Help me with a task"]
DEFAULT_TAGS = ["chat", "AI", "assistant", "mcp", "natural language"]
# The A2A protocol versions the JSON-RPC endpoint answers (see protocols/a2a_jsonrpc.py).
A2A_VERSIONS = ("1.0", "0.3")


def agent_prefix(agent_id: str) -> str:
    """The path under which one hosted agent's protocol endpoints live."""
    return f"/agents/{agent_id}"


def _default_skill(config: Any, description: str) -> dict[str, Any]:
    routing = config.routing
    tags = list(DEFAULT_TAGS)
    for keyword in routing.keywords:
        if keyword not in tags:
            tags.append(keyword)
    return {
        "id": "chat_with_agent",
        "name": "chat_with_agent",
        "description": routing.description or description,
        "tags": tags,
        "examples": list(routing.examples[:5]) or list(DEFAULT_EXAMPLES),
        "inputModes": ["text/plain"],
        "outputModes": ["text/plain"],
    }


def build_card(agent: Any, base_url: str, *, auth_required: bool, path_prefix: str = "") -> dict[str, Any]:
    config = agent.config
    overrides = config.agentCard.model_dump(exclude_none=True) if config.agentCard else {}
    description = overrides.pop("description", None) or config.description or DEFAULT_DESCRIPTION
    skills = overrides.pop("skills", None) or [_default_skill(config, description)]
    endpoint = f"{base_url}{path_prefix}"
    url = overrides.pop("url", None) or f"{endpoint}/jsonrpc"
    card: dict[str, Any] = {
        "protocolVersion": "0.3.0",
        "name": overrides.pop("name", None) or config.agentId,
        "description": description,
        "url": url,
        "preferredTransport": "JSONRPC",
        "supportedInterfaces": [{"url": url, "protocolBinding": "JSONRPC", "protocolVersion": v}
                                for v in A2A_VERSIONS],
        "version": overrides.pop("version", None) or "1.0.0",
        "defaultInputModes": ["application/json", "text/plain"],
        "defaultOutputModes": ["application/json", "text/event-stream", "text/plain"],
        "capabilities": {"streaming": True, "pushNotifications": False, "stateTransitionHistory": False},
        "skills": skills,
        "provider": {"organization": "Switchyard", "url": base_url},
        "metadata": {"switchyard": {
            "version": __version__,
            "agentId": config.agentId,
            "endpoints": {"a2a": url, "mcp": f"{endpoint}/mcp",
                          "openai": f"{base_url}/v1/chat/completions", "openaiModel": config.agentId},
        }},
    }
    if auth_required:
        card["securitySchemes"] = {"bearerAuth": {"type": "http", "scheme": "bearer",
                                                  "description": "Authorization: Bearer <api-key>"}}
        card["security"] = [{"bearerAuth": []}]
    if "url" not in (config.agentCard.model_dump(exclude_none=True) if config.agentCard else {}):
        # The HTTP+JSON binding (server/protocols/a2a_rest_routes.py) serves the default agent at
        # the root and each agent under its prefix: 1.0 clients add `/message:send` to their
        # URL, 0.3 ones `/v1/...`.
        card["supportedInterfaces"] += [
            {"url": f"{endpoint}/v1", "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0"},
            {"url": endpoint, "protocolBinding": "HTTP+JSON", "protocolVersion": "0.3"}]
    card.update(overrides)
    return card
