"""`switchyard serve --workers N`: N server processes sharing one listening socket.

The parent binds the address once and starts N children (`switchyard serve` again, with the
same arguments), each handed the socket (SWITCHYARD_WORKER_FD) and running the whole server on
it: the kernel spreads the connections over them. A child that dies is started again (after a
second, so a crash loop does not spin); SIGTERM or SIGINT stops them all, each finishing its
turns within --shutdown-grace. The parent runs no agent: it only supervises.

Correctness across workers is that of replicas (server/replicas.py): the runner refuses N > 1
unless the state is shared (SWITCHYARD_REDIS_URL and Postgres storage).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

log = logging.getLogger("switchyard.serve")

FD_VAR = "SWITCHYARD_WORKER_FD"
INDEX_VAR = "SWITCHYARD_WORKER_INDEX"
RESTART_DELAY = 1.0


def worker_fd() -> int | None:
    """The listening socket this process was handed as a worker, or None."""
    raw = os.environ.get(FD_VAR)
    return int(raw) if raw and raw.isdigit() else None


def worker_index() -> int:
    raw = os.environ.get(INDEX_VAR, "0")
    return int(raw) if raw.isdigit() else 0


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_workers(args: Any, workers: int) -> int:
    """Supervise `workers` children until a signal; 0 when they all stopped cleanly."""
    try:
        sock = _bind(args.host, args.port)
    except OSError as exc:
        print(f"error: cannot bind {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]
    argv = [sys.executable, "-m", "switchyard.cli", *getattr(args, "argv", sys.argv[1:])]
    children: dict[int, subprocess.Popen[bytes]] = {}
    stopping = False

    def start(index: int) -> None:
        env = {**os.environ, FD_VAR: str(sock.fileno()), INDEX_VAR: str(index)}
        children[index] = subprocess.Popen(argv, env=env, pass_fds=(sock.fileno(),))

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    log.info("starting %d workers on %s:%d (pid %d supervises)", workers, args.host, port, os.getpid())
    try:
        for index in range(workers):
            start(index)
        while not stopping:
            time.sleep(0.2)
            for index, child in list(children.items()):
                code = child.poll()
                if code is not None and not stopping:
                    log.error("worker %d (pid %d) exited with status %s; starting it again in %.0f s",
                              index, child.pid, code, RESTART_DELAY)
                    time.sleep(RESTART_DELAY)
                    if not stopping:
                        start(index)
        grace = getattr(args, "shutdown_grace", 10.0) + 10
        statuses = []
        for child in children.values():
            try:
                statuses.append(child.wait(grace))
            except subprocess.TimeoutExpired:
                child.kill()
                statuses.append(child.wait())
        return 0 if all(code == 0 for code in statuses) else 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
