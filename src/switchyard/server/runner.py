"""`switchyard serve`: load the agents, build the app, run uvicorn with graceful shutdown."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections import ChainMap
from collections.abc import Mapping
from typing import Any

from switchyard.server.security.hosts import is_loopback_name

log = logging.getLogger("switchyard.serve")


def checked_agents(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> list[Any] | None:
    """The agents of --agent and --agents, checked as `switchyard validate` checks them
    (runtime/agent_files.py), with `env` (default: the process environment). On any problem:
    every problem printed, None returned."""
    from switchyard.errors import ConfigError
    from switchyard.runtime.agent_files import check_agents
    try:
        report = check_agents(args.agent, getattr(args, "agents", None), env=env, strict=True)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    for note in report.notes:
        log.info("%s", note)
    for file in report.files:
        for warning in file.warnings:
            log.warning("%s: %s", file.source, warning)
    if not report.ok:
        print(f"error: cannot serve: {report.error()}", file=sys.stderr)   # one line per problem
        return None
    from switchyard.observability.tracing import missing_extra
    for loaded in report.agents:
        missing = missing_extra(loaded.config.telemetry)
        if missing:
            print(f"error: {loaded.path or loaded.config.agentId}: {missing}", file=sys.stderr)
            return None
    return report.agents


def check_agent_flags(args: argparse.Namespace, settings: Any, ids: list[str]) -> str | None:
    """One line saying which flag names an agent that is not served, or None."""
    hosted = ", ".join(ids)
    for flag, value in (("--default-agent", getattr(args, "default_agent", None)),
                        ("--router-fallback", getattr(args, "router_fallback", None)),
                        ("SWITCHYARD_ROUTER_FALLBACK", settings.router.fallback)):
        if value and value not in ids:
            return f"{flag} {value!r}: no such agent (serving: {hosted})"
    return check_router_model(settings)


def check_router_model(settings: Any) -> str | None:
    """SWITCHYARD_ROUTER_MODEL naming no model directory, when the router would use it: said
    at start rather than on the first `agentId: "auto"` message (the router is built then)."""
    if settings.router.semantic in ("static", "off"):
        return None
    from switchyard.routing import semantic  # pathlib and importlib only

    configured = semantic.configured_model()
    return None if configured is None else semantic.model_problem(configured)


def build_host(loaded: list[Any], default_agent: str | None = None) -> Any:
    from switchyard.runtime.agent import Agent
    from switchyard.runtime.host import AgentHost
    return AgentHost([Agent(item) for item in loaded], default_agent)


def unsafe_bind_reason(host: str, settings: Any) -> str | None:
    """Why binding `host` would expose an unauthenticated server, or None when it is safe."""
    if is_loopback_name(host) or settings.auth_required_with_key:
        return None
    if settings.auth_required:
        return (f"authentication is required ({settings.mode_var}) but neither SWITCHYARD_API_KEY "
                "nor DEXTO_SERVER_API_KEY is set")
    if settings.root_key:
        return (f"{settings.root_key_var} is set but authentication is off (development mode); "
                "set SWITCHYARD_ENV=production or SWITCHYARD_REQUIRE_AUTH=true")
    return "no API key is configured (development mode has no authentication)"


def server_settings(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Any:
    """The one settings object of `switchyard serve`: the environment and the serve flags."""
    from switchyard.server.settings import ServerSettings
    return ServerSettings.from_args(args, os.environ if env is None else env)


def check_bind(args: argparse.Namespace, settings: Any = None) -> int | None:
    """Refuse a non-loopback address without authentication (exit status 2), unless
    --insecure-no-auth, which logs a loud warning (the settings then let non-loopback Host
    headers in). `settings`: the server's, or an environment mapping to build them from."""
    from switchyard.server.settings import ServerSettings
    if getattr(args, "mcp_stdio", False):
        return None   # stdio: nothing is bound
    if not isinstance(settings, ServerSettings):
        settings = server_settings(args, settings)
    reason = unsafe_bind_reason(args.host, settings.security)
    if reason is None:
        return None
    if not args.insecure_no_auth:
        print(f"error: refusing to bind {args.host}: {reason}. Anyone who can reach this address "
              "could use the agent and its tools. Set SWITCHYARD_API_KEY (or DEXTO_SERVER_API_KEY) "
              "with SWITCHYARD_ENV=production (or SWITCHYARD_REQUIRE_AUTH=true), or bind 127.0.0.1, "
              "or pass --insecure-no-auth if the network is isolated.", file=sys.stderr)
        return 2
    for line in ("*" * 72,
                 f"INSECURE: serving {args.host} WITHOUT AUTHENTICATION (--insecure-no-auth): {reason}.",
                 "Anyone who can reach this address can run the agent, its tools and change its model.",
                 "*" * 72):
        log.warning(line)
    return None


def _graceful_server_class() -> Any:
    import contextlib
    import signal

    import uvicorn

    class GracefulServer(uvicorn.Server):
        """uvicorn re-raises SIGTERM after its graceful shutdown, so the process dies of the
        signal; a clean, finished shutdown should exit 0 instead. `on_ready(port)` is called
        once the sockets listen (after the agents and their MCP servers started)."""

        on_ready: Any = None

        @contextlib.contextmanager
        def capture_signals(self):  # type: ignore[override]
            handled = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and not self.should_exit and self.on_ready is not None:
                bound = [s.getsockname()[1] for server in self.servers for s in server.sockets]
                self.on_ready(bound[0] if bound else self.config.port)

    return GracefulServer


def _report_fatal_signals() -> None:
    """A SIGBUS (SQLite's memory-mapped shared-memory file on a full, truncated or network
    filesystem), SIGSEGV, SIGFPE, SIGABRT or SIGILL ends the process at once, and Python's
    default is to say nothing. faulthandler writes "Fatal Python error: Bus error" and every
    thread's stack to stderr first (issue 17)."""
    import faulthandler
    if not faulthandler.is_enabled():
        faulthandler.enable(file=sys.stderr, all_threads=True)


def serve(args: argparse.Namespace) -> int:
    settings = server_settings(args)   # built once, here; everything below is handed it
    refused = check_bind(args, settings)
    if refused is not None:
        return refused
    # Provider keys stored with POST /api/llm/key serve the agents whose own key is absent:
    # the agents are checked, and their models resolved, with them behind the environment.
    from switchyard.server.model_settings import load_stored_keys
    stored = load_stored_keys(settings.security.server_database_url(), settings.env)
    env: Mapping[str, str] = ChainMap(os.environ, stored) if stored else os.environ  # type: ignore[arg-type]
    loaded = checked_agents(args, env)
    if loaded is None:
        return 2
    wrong = check_agent_flags(args, settings, [item.config.agentId for item in loaded])
    if wrong:
        print(f"error: {wrong}", file=sys.stderr)
        return 2
    from switchyard.server import replicas, workers
    fd = workers.worker_fd()
    count = 1 if (args.mcp_stdio or fd is not None) else (getattr(args, "workers", None)
                                                          or replicas.default_workers(settings, loaded))
    settings, problem = replicas.shared_store_problem(settings, loaded, count)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if count > 1:
        return workers.run_workers(args, count)

    host = build_host(loaded, args.default_agent)
    host.folder = getattr(args, "agents", None)   # agents are installed there (api/agents_manage.py)
    host.stored_keys.update(stored)
    if args.mcp_stdio:
        from switchyard.server.protocols.mcp_stdio import serve_stdio
        return serve_stdio(host, settings)

    from switchyard.llm.factory import resolve_llm
    for agent in host.agents.values():
        notice = resolve_llm(agent.config.llm, env).notice
        if notice:
            log.warning("agent %s: %s", agent.id, notice)

    _report_fatal_signals()
    import uvicorn

    from switchyard.server.app import create_app
    from switchyard.server.banner import banner
    app = create_app(host, settings=settings, shutdown_grace=args.shutdown_grace)
    config = uvicorn.Config(
        app, host=args.host, port=args.port, fd=fd, loop="uvloop", http="httptools", log_config=None,
        access_log=getattr(args, "access_log", True), timeout_graceful_shutdown=args.shutdown_grace + 5,
        server_header=False, proxy_headers=False, lifespan="on")
    server = _graceful_server_class()(config)
    shown = f"[{args.host}]" if ":" in args.host else args.host

    def ready(port: int) -> None:
        if fd is not None and workers.worker_index() > 0:
            log.info("worker %d ready", workers.worker_index())
            return
        text = banner(host, settings, f"http://{shown}:{port}")
        if getattr(args, "json_logs", False):
            log.info("%s", text)       # one JSON line, like every other line of the log
        else:
            print(text, file=sys.stderr, flush=True)
    server.on_ready = ready
    log.info("starting %s on %s:%d", ", ".join(host.agents), args.host, args.port)
    server.run()
    return 0 if server.started else 1
