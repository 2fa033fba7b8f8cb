"""Pieces of the MCP client that do not need a session: the restart policy, the environment a
stdio server gets, error descriptions, and a stdio server's stderr tail."""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from dataclasses import dataclass
from typing import TextIO

from mcp.shared.exceptions import MCPError

from switchyard.errors import RuntimeFailure

log = logging.getLogger("switchyard.mcp")

# What a stdio server inherits from Switchyard's environment; everything else must be given
# in the server's `env`. Locale and temp dirs are here because many servers break without them.
SAFE_ENV_VARS = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE",
    "LC_MESSAGES", "TZ", "TMPDIR", "TEMP", "TMP",
    # Windows needs these to start most programs.
    "SYSTEMROOT", "SYSTEMDRIVE", "COMSPEC", "PATHEXT", "WINDIR", "APPDATA", "LOCALAPPDATA",
    "USERPROFILE",
)


class MCPConnectionError(RuntimeFailure):
    """An MCP server could not be reached, or answered a request with an error."""

    status = 502
    code = "mcp_connection_failed"


class NotConnected(Exception):
    """Internal: a request reached a connection that is not up."""


@dataclass
class ConnectionOptions:
    """Restart and health-check policy (short values in tests)."""

    backoff_initial: float = 0.5   # seconds before the first retry, doubling each time
    backoff_max: float = 30.0
    max_attempts: int = 8          # failures in a row before giving up (status "error")
    health_interval: float = 5.0   # seconds between pings that find a dead connection
    stop_timeout: float = 5.0      # seconds stop() waits for a clean shutdown before cancelling
    # Connecting includes starting the server process (an `npx` download, a Python import), so
    # it may take longer than any call: the limit is the larger of this and the server timeout.
    connect_timeout: float = 30.0

    def delay(self, failures: int) -> float:
        return min(self.backoff_initial * (2 ** max(failures - 1, 0)), self.backoff_max)


def server_environment(extra: dict[str, str]) -> dict[str, str]:
    env = {k: os.environ[k] for k in SAFE_ENV_VARS if k in os.environ}
    env.update(extra)
    return env


def describe(exc: BaseException) -> str:
    """A one-line reason, unwrapping the ExceptionGroups anyio task groups raise."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, MCPError):
        return exc.message
    if isinstance(exc, NotConnected):
        return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class StderrTail:
    """A stdio server's stderr, forwarded to our log, keeping the last lines for error messages
    (a server that dies at import time says why only there)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: deque[str] = deque(maxlen=15)
        self.writer: TextIO | None = None

    def open(self) -> TextIO:
        read_fd, write_fd = os.pipe()
        self.lines.clear()
        self.writer = os.fdopen(write_fd, "w")
        reader = os.fdopen(read_fd, "r", errors="replace")
        threading.Thread(target=self._pump, args=(reader,), daemon=True,
                         name=f"mcp-stderr-{self.name}").start()
        return self.writer

    def close_writer(self) -> None:
        # The child holds its own copy; ours must close so the reader sees EOF when it exits.
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _pump(self, reader: TextIO) -> None:
        with reader:
            for line in reader:
                line = line.rstrip()
                if line:
                    self.lines.append(line)
                    log.debug("[%s stderr] %s", self.name, line)

    def tail(self) -> str:
        return " | ".join(list(self.lines)[-3:])
