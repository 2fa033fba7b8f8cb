"""One agent for `run` and `chat`: loaded and checked the way `serve` checks its agents."""

from __future__ import annotations

import sys
from typing import Any, Awaitable, Callable


def startup_notice(agent: Any) -> None:
    from switchyard.llm.factory import resolve_llm
    notice = resolve_llm(agent.config.llm).notice
    if notice:
        print(notice, file=sys.stderr)


def load_one_agent(path: str | None) -> Any:
    """The agent of `path` (None: the bundled one), checked as `serve` checks it; ConfigError
    listing every problem otherwise."""
    from switchyard.runtime.agent import Agent
    from switchyard.runtime.agent_files import load_agents
    agents, _notes = load_agents([path] if path else None)
    return Agent(agents[0])


async def with_agent(path: str | None, body: Callable[[Any], Awaitable[int]]) -> int:
    agent = load_one_agent(path)
    await agent.start()
    try:
        startup_notice(agent)
        return await body(agent)
    finally:
        await agent.stop(grace=1)


