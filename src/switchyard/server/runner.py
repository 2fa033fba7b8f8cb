"""`switchyard serve`: load the agents, build the app, run uvicorn with graceful shutdown."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("switchyard.serve")


def agent_files(args: argparse.Namespace) -> list[str | None]:
    files: list[str | None] = list(args.agent or [])
    if getattr(args, "agents", None):
        folder = Path(args.agents)
        if not folder.is_dir():
            from switchyard.errors import ConfigError
            raise ConfigError(f"--agents {folder}: not a folder")
        found = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
        if not found:
            from switchyard.errors import ConfigError
            raise ConfigError(f"--agents {folder}: no .yml or .yaml files in it")
        files.extend(str(p) for p in found)
    return files or [None]


def build_host(files: list[str | None], default_agent: str | None = None) -> Any:
    from switchyard.config import load_agent
    from switchyard.runtime.agent import Agent
    from switchyard.runtime.host import AgentHost
    agents = [Agent(load_agent(f)) for f in files]
    return AgentHost(agents, default_agent)


def is_loopback_host(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _graceful_server_class() -> Any:
    import contextlib
    import signal

    import uvicorn

    class GracefulServer(uvicorn.Server):
        """uvicorn re-raises SIGTERM after its graceful shutdown, so the process dies of the
        signal; a clean, finished shutdown should exit 0 instead."""

        @contextlib.contextmanager
        def capture_signals(self):  # type: ignore[override]
            handled = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return GracefulServer


def serve(args: argparse.Namespace) -> int:
    from switchyard.server.security.settings import SecuritySettings
    settings = SecuritySettings.from_env(os.environ)
    if not is_loopback_host(args.host) and not settings.auth_required_with_key and not args.insecure_no_auth:
        print(f"error: refusing to bind {args.host} without authentication: anyone on the network could "
              "use this agent and its tools. Set SWITCHYARD_API_KEY (or DEXTO_SERVER_API_KEY) with "
              "SWITCHYARD_ENV=production, or bind 127.0.0.1, or pass --insecure-no-auth.", file=sys.stderr)
        return 2
    if args.insecure_no_auth and not is_loopback_host(args.host):
        log.warning("INSECURE: serving %s without authentication (--insecure-no-auth)", args.host)

    host = build_host(agent_files(args), args.default_agent)
    if args.mcp_stdio:
        from switchyard.server.protocols.mcp_stdio import serve_stdio
        return serve_stdio(host)

    from switchyard.llm.factory import resolve_llm
    for agent in host.agents.values():
        notice = resolve_llm(agent.config.llm).notice
        if notice:
            log.warning("agent %s: %s", agent.id, notice)

    import uvicorn

    from switchyard.server.app import create_app
    _GracefulServer = _graceful_server_class()
    app = create_app(host, shutdown_grace=args.shutdown_grace)
    config = uvicorn.Config(
        app, host=args.host, port=args.port, loop="uvloop", http="httptools", log_config=None,
        access_log=False, timeout_graceful_shutdown=args.shutdown_grace + 5, server_header=False,
        proxy_headers=False, lifespan="on")
    server = _GracefulServer(config)
    log.info("Switchyard serving %s on http://%s:%d", ", ".join(host.agents), args.host, args.port)
    server.run()
    return 0
