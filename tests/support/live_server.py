"""Run a real Switchyard server (uvicorn) on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any, Callable, Iterator

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def iter_sse(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of an SSE body as they arrive, keep-alive comments left out."""
    import json
    name, data = None, []
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if line == "":
            if name is not None or data:
                yield name or "message", json.loads("\n".join(data)) if data else {}
            name, data = None, []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
    if name is not None or data:
        yield name or "message", json.loads("\n".join(data)) if data else {}


def sse_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """The whole SSE body as (event, data) pairs (waits for the end of the stream)."""
    return list(iter_sse(response))


def wait_for_port(port: int, *, proc: Any = None, timeout: float = 20.0) -> None:
    """Until something listens on the loopback port (or the process died, or time ran out)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
                raise RuntimeError(f"nothing listens on port {port}")
            time.sleep(0.05)


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
