"""Serve a new or changed agent while the server runs, without a restart.

A changed configuration becomes a new Agent, built and started beside the one it replaces
and sharing what the change keeps: the store (same `storage.database`), the bus (same
`storage.cache`) and the live sessions, so a session's lock spans both and it never runs
two turns at once. Only once the new agent started (MCP servers connected, prompt files
read) is it swapped in; the old one finishes its running turns (their tools, model and
prompt unchanged) and then stops in the background. A new agent that fails to start is
stopped and nothing changes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from switchyard.config.loader import LoadedAgent
from switchyard.errors import ConflictError
from switchyard.runtime.agent import Agent
from switchyard.runtime.host import AgentHost

log = logging.getLogger("switchyard.agents")

# How long a replaced or uninstalled agent's running turns may go on before they are cancelled.
RETIRE_GRACE = 600.0


async def started_agent(loaded: LoadedAgent, like: Agent | None = None,
                        stored_keys: Mapping[str, str] | None = None) -> Agent:
    """An agent for `loaded`, started; built on `like`'s store, bus and live sessions where
    the configuration keeps them (a reload). Stopped again if it fails to start.
    `stored_keys`: the host's stored provider keys, which its model may need to start."""
    store = bus = live = None
    env = None
    if like is not None:
        env = like.env
        if like.config.storage.database == loaded.config.storage.database:
            store, live = like.store, like.live
        if like.config.storage.cache == loaded.config.storage.cache:
            bus = like.bus
    agent = Agent(loaded, store=store, bus=bus, live=live, env=env)
    agent.recover_lost_turns = like is None
    if stored_keys is not None:
        agent.models.stored_keys = stored_keys
    if like is not None and like.shared is not None:   # one of several replicas: so is its successor
        from switchyard.runtime import replicas
        replicas.join(agent, like.shared)
    try:
        await agent.start()
    except BaseException:
        await agent.stop(grace=0.5)
        raise
    if live is not None:   # shared: from now on with the new `sessions` limits
        live.max_sessions = loaded.config.sessions.maxSessions
        live.ttl = loaded.config.sessions.sessionTTL / 1000
    return agent


def _spawn_retire(host: AgentHost, agent: Agent, grace: float) -> None:
    task = asyncio.ensure_future(host.retire(agent, grace))
    _retiring_tasks.add(task)
    task.add_done_callback(_retiring_tasks.discard)
    task.add_done_callback(lambda t: t.cancelled() or t.exception() and log.error(
        "agent %s did not stop cleanly: %s", agent.id, t.exception()))


_retiring_tasks: set[asyncio.Task[Any]] = set()


def change_lock(host: AgentHost) -> asyncio.Lock:
    """One change of the hosted agents at a time (ConflictError for a second, at once)."""
    lock = getattr(host, "_change_lock", None)
    if lock is None:
        lock = host._change_lock = asyncio.Lock()   # type: ignore[attr-defined]
    if lock.locked():
        raise ConflictError("another change of the agents is in progress; try again",
                            code="agent_change_in_progress")
    return lock


async def replace(host: AgentHost, loaded: LoadedAgent, *, grace: float = RETIRE_GRACE,
                  before_swap: Any = None) -> Agent:
    """Serve `loaded` in place of the hosted agent with its id. `before_swap()` runs once
    the new agent started and before it serves (writing the file): if it raises, the new
    agent is stopped and the old one goes on serving."""
    old = host.get(loaded.config.agentId)
    new = await started_agent(loaded, like=old, stored_keys=host.stored_keys)
    try:
        if before_swap is not None:
            before_swap()
    except BaseException:
        await new.stop(grace=0.5)
        raise
    host.join(new)
    _spawn_retire(host, old, grace)
    log.info("agent %s: configuration reloaded from %s", new.id, loaded.path or "(bundled)")
    return new


async def add(host: AgentHost, loaded: LoadedAgent) -> Agent:
    """Serve a new agent (its id not hosted yet)."""
    if loaded.config.agentId in host.agents:
        raise ConflictError(f"agent {loaded.config.agentId!r} is already served", code="agent_exists")
    agent = await started_agent(loaded, stored_keys=host.stored_keys)
    host.join(agent)
    log.info("agent %s: installed from %s", agent.id, loaded.path)
    return agent


def remove(host: AgentHost, agent_id: str, *, grace: float = RETIRE_GRACE) -> Agent:
    """Stop serving an agent; its running turns finish in the background."""
    agent = host.leave(agent_id)
    _spawn_retire(host, agent, grace)
    log.info("agent %s: uninstalled", agent_id)
    return agent


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step (a temporary file beside it, then a rename):
    a reader sees the old file or the new one, never half of one. The file's mode is kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
