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

# The answer of a route that starts a turn when Redis is unreachable (bus/shared.py): no turn
# starts without its lease, since it could run twice.
SHARED_STATE_UNAVAILABLE = ("Service Unavailable: the replicas' shared state (Redis) is unreachable "
                            "(`shared_state_unavailable`): no turn started; try again shortly")


def shared_state_doc(model: Any = None) -> dict[int, Any]:
    """The 503 of a route that starts a turn, for its OpenAPI `responses` (`model`: the error
    body, the error envelope by default)."""
    if model is None:
        from switchyard.server.schemas import ErrorEnvelope
        model = ErrorEnvelope
    return {503: {"model": model, "description": SHARED_STATE_UNAVAILABLE}}


def install_replicas(app: Any, host: Any, settings: Any) -> Any:
    """Join every agent of `host` to the replicas sharing SWITCHYARD_REDIS_URL (none without it)."""
    security = settings.security
    if not security.redis_url:
        return None
    from switchyard.bus.shared import SharedState
    from switchyard.runtime import replicas
    shared = SharedState(security.redis_url, prefix=security.redis_prefix, lease_ttl=security.session_lease_ttl)
    box = None
    if (settings.env.get("SWITCHYARD_SECRET_KEY") or "").strip():   # the same on every replica
        from switchyard.server.secret_box import SecretBox
        box = SecretBox(settings.env, security.home)
    for agent in host.agents.values():
        replicas.join(agent, shared, box)

    def join_new(agent: Any) -> None:
        """An agent installed while serving (a reloaded one joined before it started)."""
        if agent.shared is None:
            replicas.join(agent, shared, box)
            replicas.started(agent)
    host.on_join.append(join_new)
    host.run_quota.shared = shared
    _install_config_sync(app, host, settings, shared)
    app.state.after_stop_hooks.append(shared.close)
    setattr(app.state, SHARED_STATE_KEY, shared)
    return shared


def _install_config_sync(app: Any, host: Any, settings: Any, shared: Any) -> None:
    """Agent configuration changed over HTTP on one replica, applied on all (runtime/config_sync.py)."""
    from switchyard.runtime.config_sync import DEFAULT_INTERVAL, ConfigSync
    from switchyard.runtime.supervisor import Supervisor
    from switchyard.store.database import Database
    try:
        interval = float(settings.env.get("SWITCHYARD_CONFIG_SYNC_INTERVAL") or DEFAULT_INTERVAL)
    except ValueError:
        log.warning("SWITCHYARD_CONFIG_SYNC_INTERVAL is not a number of seconds: using %s", DEFAULT_INTERVAL)
        interval = DEFAULT_INTERVAL
    sync = ConfigSync(host, Database(settings.security.server_database_url()), shared, settings.env,
                      interval=max(0.2, interval))
    supervisor = Supervisor("config-sync")
    app.state.config_sync = sync

    async def startup() -> None:
        await sync.db.open()
        await sync.start(supervisor)

    async def stop() -> None:
        await supervisor.stop(grace=2.0)

    async def close() -> None:
        await sync.db.close()
    app.state.startup_hooks.append(startup)
    app.state.shutdown_hooks.append(stop)
    app.state.after_stop_hooks.append(close)


def config_sync_of(request: Any) -> Any:
    """The replicas' configuration journal (runtime/config_sync.ConfigSync), None without Redis."""
    return getattr(request.app.state, "config_sync", None)


async def announce(request: Any, action: str, agent_id: str, **change: Any) -> None:
    """Record a change of the agents applied here, for the other replicas (nothing without Redis)."""
    sync = config_sync_of(request)
    if sync is not None:
        await sync.record(action, agent_id, **change)


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
