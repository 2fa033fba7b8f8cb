"""Loopback ports for tests and benchmarks: a free one, a closed one, waiting for one to open."""

from __future__ import annotations

import socket
import time
from typing import Any


def free_port() -> int:
    """A loopback TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port_url(path: str = "/v1") -> str:
    """A loopback URL on which nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}{path}"


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
