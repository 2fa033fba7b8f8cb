"""Start-to-exit latency of `switchyard route --hook`, the prompt hook a coding assistant runs on
every prompt (docs/router-hook.md), in both modes, against `python -c pass` in the same run:

    local   --agents examples/agents (the default install: static embeddings, numpy)
    server  --server URL, a `switchyard serve --agents examples/agents` started here and warmed

Each command reads the same UserPromptSubmit event on stdin. With hyperfine on PATH (Debian:
`apt-get install hyperfine`) it measures; otherwise (or with --python) a Python harness runs
each command N times, interleaved, and takes the median.

    PYTHONPATH=src python bench/hook_latency.py [--runs 30] [--python]

Targets on the 2-core dev machine: p50 <= 150 ms local, <= 60 ms with --server.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVENT = {"session_id": "bench", "cwd": str(ROOT), "hook_event_name": "UserPromptSubmit",
         "prompt": "I was charged twice for my subscription this month, can I get a refund?"}
TARGETS_MS = {"local": 150.0, "server": 60.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "switchyard.cli", "serve", "--agents",
                             str(ROOT / "examples" / "agents"), "--port", str(port), "--no-access-log"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(f"{url}/api/route", method="POST",
                                             data=json.dumps({"content": "warm up"}).encode(),
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the server did not answer POST /api/route within 120 s")


def python_harness(commands: dict[str, list[str]], event_file: Path, runs: int,
                   env: dict[str, str]) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(2):  # warm-up: page cache, .pyc files
        for argv in commands.values():
            with event_file.open() as stdin:
                subprocess.run(argv, stdin=stdin, capture_output=True, env=env, check=True)
    for _ in range(runs):
        for name, argv in commands.items():
            with event_file.open() as stdin:
                start = time.perf_counter()
                subprocess.run(argv, stdin=stdin, capture_output=True, env=env, check=True)
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def hyperfine(commands: dict[str, list[str]], event_file: Path, runs: int,
              env: dict[str, str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "hyperfine.json"
        argv = ["hyperfine", "--warmup", "3", "--runs", str(runs), "--style", "basic",
                "--export-json", str(out)]
        for name, command in commands.items():
            argv += ["--command-name", name,
                     f"{shlex.join(command)} < {shlex.quote(str(event_file))} > /dev/null"]
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        results = json.loads(out.read_text())["results"]
    return {r["command"]: r["median"] * 1000 for r in results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--python", action="store_true", help="use the Python harness even with hyperfine")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "SWITCHYARD_HOME": home,
               "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
        env.pop("SWITCHYARD_API_KEY", None)
        env.pop("SWITCHYARD_ENV", None)
        event_file = Path(home) / "event.json"
        event_file.write_text(json.dumps(EVENT))
        empty_file = Path(home) / "empty.json"
        empty_file.write_text(json.dumps({**EVENT, "prompt": ""}))
        server, url = start_server(env)
        try:
            hook = [sys.executable, "-m", "switchyard.cli", "route", "--hook"]
            commands = {"baseline": [sys.executable, "-c", "pass"],
                        "local": [*hook, "--agents", str(ROOT / "examples" / "agents")],
                        "server": [*hook, "--server", url]}
            for name in ("local", "server"):  # each mode must answer, or the timing means nothing
                with event_file.open() as stdin:
                    out = subprocess.run(commands[name], stdin=stdin, capture_output=True, text=True, env=env)
                if not out.stdout.startswith('{"hookSpecificOutput"'):
                    raise SystemExit(f"{name}: no hook answer (stderr: {out.stderr.strip()!r})")
            tool = "hyperfine" if shutil.which("hyperfine") and not args.python else "python harness"
            measure = hyperfine if tool == "hyperfine" else python_harness
            p50 = measure(commands, event_file, args.runs, env)
            # The hook's own start-up, without routing: an empty prompt exits before any work.
            p50["startup"] = measure({"startup": commands["server"]}, empty_file, args.runs, env)["startup"]
        finally:
            server.terminate()
            server.wait(20)

    base = p50["baseline"]
    print(f"switchyard route --hook, start to exit, p50 of {args.runs} runs ({tool}), "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"{'mode':<10}{'p50 ms':>10}{'x python -c pass':>20}{'target ms':>12}")
    print(f"{'baseline':<10}{base:>10.1f}{1.0:>20.2f}{'':>12}")
    print(f"{'startup':<10}{p50['startup']:>10.1f}{p50['startup'] / base:>20.2f}{'':>12}"
          "   (empty prompt: start-up and exit only)")
    for name in ("local", "server"):
        print(f"{name:<10}{p50[name]:>10.1f}{p50[name] / base:>20.2f}{TARGETS_MS[name]:>12.0f}")


if __name__ == "__main__":
    main()
