"""What `switchyard serve` tells a person when the server is ready: the agents, the URL, the
authentication mode and how to send a key, and where the API is described. Printed only once
the port accepts connections (see runner.py), so "ready" is true when it is said."""

from __future__ import annotations

from typing import Any


def _auth_line(security: Any) -> list[str]:
    if security.auth_required_with_key:
        return [f"auth:    required: send `Authorization: Bearer <key>` (the root key is "
                f"${security.root_key_var}; named keys: switchyard keys create)"]
    if security.insecure_no_auth:
        return ["auth:    NONE (--insecure-no-auth): anyone who can reach this address can use it"]
    return ["auth:    off (development mode: loopback only, no key needed; "
            "SWITCHYARD_ENV=production turns keys on)"]


def _model(agent: Any) -> str:
    from switchyard.errors import ConfigError
    from switchyard.llm.factory import resolve_llm
    try:
        resolved = resolve_llm(agent.config.llm, agent.env if agent.env is not None else _environ())
    except ConfigError:
        return "model: unusable"
    return f"{resolved.provider}/{resolved.model}"


def _environ() -> Any:
    import os
    return os.environ


def banner(host: Any, settings: Any, url: str) -> str:
    """The ready message. `host`: the AgentHost; `url`: the address it answers on."""
    width = max(len(a) for a in host.agents)
    lines = [f"Switchyard is ready on {url}", "agents:"]
    for agent_id, agent in host.agents.items():
        marks = []
        if agent_id == host.default_id and len(host.agents) > 1:
            marks.append("default")
        if settings.router.fallback == agent_id:
            marks.append("router fallback")
        mcp = agent.mcp.servers() if agent.mcp is not None else []
        if mcp:
            up = sum(1 for s in mcp if s["status"] == "connected")
            marks.append(f"MCP {up}/{len(mcp)} connected")
        extra = f"  ({', '.join(marks)})" if marks else ""
        lines.append(f"  {agent_id:<{width}}  {_model(agent)}{extra}")
    lines.extend(_auth_line(settings.security))
    key_note = " (it asks for the key)" if settings.security.auth_required_with_key else ""
    lines.append(f"chat:    open {url}/ in a browser: the web UI{key_note}")
    lines.append(f"docs:    {url}/docs (OpenAPI: {url}/openapi.json)")
    agent_field = f', "agentId": "{host.default_id}"' if len(host.agents) > 1 else ""
    key = (f" -H \"authorization: Bearer ${settings.security.root_key_var}\""
           if settings.security.auth_required_with_key else "")
    lines.append(f"try:     curl -s {url}/api/message-sync{key} -H 'content-type: application/json' "
                 f"-d '{{\"content\": \"hello\"{agent_field}}}'   (from a second terminal)")
    lines.append("Ctrl-C stops the server (running turns get --shutdown-grace seconds to finish).")
    return "\n".join(lines)
