"""Replicas and workers (docs/production.md): what makes several `switchyard serve` processes
one server.

With SWITCHYARD_REDIS_URL set, every hosted agent joins the processes sharing that Redis
(runtime/replicas.py): session leases, the running turn's events, approvals and the run quota
are there; rate limits and the brute-force throttle already count there (security/ratelimit.py).
What the store holds (history, keys, audit, schedules, webhook deliveries) must be shared too:
`shared_store_problem` refuses a setup where a process would keep any of it to itself.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

log = logging.getLogger("switchyard.serve")

SHARED_STATE_KEY = "shared"


def install_replicas(app: Any, host: Any, settings: Any) -> Any:
    """Join every agent of `host` to the replicas sharing SWITCHYARD_REDIS_URL (none without it)."""
    security = settings.security
    if not security.redis_url:
        return None
    from switchyard.bus.shared import SharedState
    from switchyard.runtime import replicas
    shared = SharedState(security.redis_url, prefix=security.redis_prefix, lease_ttl=security.session_lease_ttl)
    for agent in host.agents.values():
        replicas.join(agent, shared)

    def join_new(agent: Any) -> None:
        """An agent installed while serving (a reloaded one joined before it started)."""
        if agent.shared is None:
            replicas.join(agent, shared)
            replicas.started(agent)
    host.on_join.append(join_new)
    host.run_quota.shared = shared
    app.state.after_stop_hooks.append(shared.close)
    setattr(app.state, SHARED_STATE_KEY, shared)
    return shared


def _postgres_urls(loaded: list[Any]) -> set[str]:
    return {item.config.storage.database.dsn() for item in loaded
            if getattr(item.config.storage.database, "type", None) == "postgres"}


def _storage_types(loaded: list[Any]) -> dict[str, str]:
    return {item.config.agentId: getattr(item.config.storage.database, "type", "in-memory") for item in loaded}


def shared_store_problem(settings: Any, loaded: list[Any], workers: int) -> tuple[Any, str | None]:
    """With replicas or several workers, everything stored must be where every process sees it.
    Returns the settings to serve with (the server database defaulting to the agents' one
    Postgres) and a one-line reason to refuse, or None."""
    security = settings.security
    if not security.redis_url:
        if workers <= 1:
            return settings, None
        return settings, (f"--workers {workers} needs SWITCHYARD_REDIS_URL: without Redis each worker would keep "
                          "its own session locks, running turns, approvals, rate limits and run caps, so two "
                          "turns could run at once on one session. Set SWITCHYARD_REDIS_URL, or serve with "
                          "--workers 1")
    types = _storage_types(loaded)
    in_memory = [agent for agent, kind in types.items() if kind == "in-memory"]
    if in_memory and workers > 1:
        return settings, (f"--workers {workers}: agent(s) {', '.join(in_memory)} keep their history in one "
                          "process's memory (storage.database in-memory); use postgres (or sqlite on one machine)")
    if security.database_url:
        return settings, None
    postgres = {item.config.storage.database.dsn() for item in loaded if types[item.config.agentId] == "postgres"}
    if len(postgres) == 1 and set(types.values()) == {"postgres"}:
        # Keys, audit, schedules and webhook deliveries go where the agents' history is.
        security = dataclasses.replace(security, database_url=next(iter(postgres)))
        return dataclasses.replace(settings, security=security), None
    log.warning("SWITCHYARD_REDIS_URL is set but SWITCHYARD_DATABASE_URL is not: API keys, the audit log, "
                "schedules and webhook deliveries are in %s/server.db, shared by the workers of this machine "
                "only; set SWITCHYARD_DATABASE_URL for replicas on several machines", security.home or "~/.switchyard")
    return settings, None


def default_workers(settings: Any, loaded: list[Any]) -> int:
    """One worker per core when the state is shared (Redis, and no agent in memory), else one."""
    if settings.security.redis_url and "in-memory" not in _storage_types(loaded).values():
        return max(1, os.cpu_count() or 1)
    return 1
