"""Run a real Switchyard server (uvicorn) on a free loopback port, for end-to-end tests.

`LiveServer(app_factory)` is the one way tests serve an app over real HTTP; `serve_agents`
builds one from agent config dicts. The `live_server` fixture (tests/support/fixtures.py)
stops the servers a test started."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable

import httpx
import uvicorn

from tests.support.net import free_port


class LiveServer:
    """A uvicorn server in a background thread. `app_factory` is called inside the server's
    thread so that everything async is created on the server's own event loop."""

    def __init__(self, app_factory: Callable[[], Any], *, port: int | None = None) -> None:
        self.app_factory = app_factory
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self.app: Any = None
        self.error: BaseException | None = None

    def start(self, timeout: float = 20.0) -> "LiveServer":
        ready = threading.Event()

        def target() -> None:
            try:
                self.app = self.app_factory()
                config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_config=None,
                                        access_log=False, lifespan="on", timeout_graceful_shutdown=5)
                self._server = uvicorn.Server(config)
                self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
                ready.set()
                asyncio.run(self._server.serve())
            except BaseException as exc:  # noqa: BLE001 - surfaced to the test
                self.error = exc
                ready.set()

        self._thread = threading.Thread(target=target, daemon=True, name=f"server:{self.port}")
        self._thread.start()
        ready.wait(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.error:
                raise RuntimeError(f"server failed to start: {self.error!r}") from self.error
            if self._server is not None and self._server.started:
                return self
            time.sleep(0.02)
        raise TimeoutError(f"server on port {self.port} did not start within {timeout}s")

    def stop(self, timeout: float = 20.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 30.0), **kwargs)

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_agents(*configs: dict[str, Any], env: dict[str, str] | None = None,
                 tools: list[Any] | None = None, llm_client_factory: Callable[[], Any] | None = None,
                 default_agent: str | None = None) -> LiveServer:
    """A live server hosting agents built from config dicts (validated like YAML files)."""

    def factory() -> Any:
        from switchyard.config import parse_agent
        from switchyard.runtime.agent import Agent
        from switchyard.runtime.host import AgentHost
        from switchyard.server.app import create_app
        agents = [Agent(parse_agent(c, env=env or {}), tools=list(tools or []),
                        llm_client=llm_client_factory() if llm_client_factory else None,
                        env=env) for c in configs]
        return create_app(AgentHost(agents, default_agent), shutdown_grace=3)

    return LiveServer(factory)
