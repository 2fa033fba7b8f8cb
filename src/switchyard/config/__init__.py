"""The agent YAML: schema (pydantic), `$ENV` expansion, and a loader with clear errors."""

from switchyard.config.loader import LoadedAgent, load_agent, parse_agent
from switchyard.config.schema import AgentConfig

__all__ = ["AgentConfig", "LoadedAgent", "load_agent", "parse_agent"]
