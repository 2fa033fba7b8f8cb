"""Run the `switchyard` command as a subprocess and read its output as it comes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

SRC = str(Path(__file__).resolve().parents[2] / "src")


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: this checkout's code, its own home, no provider
    keys or auth settings from the developer's shell."""
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and k not in ("SWITCHYARD_ENV", "NODE_ENV", "SWITCHYARD_REQUIRE_AUTH",
                                                       "DEXTO_SERVER_REQUIRE_AUTH", "PORT")}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["SWITCHYARD_HOME"] = str(home)
    env.update(extra)
    return env


class CliProcess:
    """`switchyard ARGS` with stdout and stderr merged into `lines`, read by a thread."""

    def __init__(self, *args: str, env: dict[str, str], cwd: str | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "switchyard.cli", *args], env=env, text=True, cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=1)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float = 60.0) -> int:
        """The index of the first line containing `text`; AssertionError (with the output so far)
        when the process ends or `timeout` passes first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for i, line in enumerate(self.lines):
                    if text in line:
                        return i
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"{text!r} never appeared; output:\n" + self.output)
                self._changed.wait(min(left, 0.5))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            self._reader.join(5)

    def __enter__(self) -> "CliProcess":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
