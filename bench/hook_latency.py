"""Start-to-exit latency of `switchyard route --hook`, the prompt hook a coding assistant runs on
every prompt (docs/router-hook.md), in every mode, against `python -c pass` in the same run:

    startup       an empty prompt: start-up, read the event, exit (nothing routed)
    server        --server URL, a `switchyard serve --agents examples/agents` started here, warmed
    local-warm    --agents examples/agents, the router cache current (every prompt but the first)
    local-edited  the same after an agent file changed: the folder's cache is rebuilt
    local-cold    nothing cached at all (the first prompt on a machine: the cache and the
                  uncompressed token table are written)

Each command reads the same UserPromptSubmit event on stdin and runs as an assistant runs it:
the `switchyard` console script next to this Python (else `python -m switchyard.cli`), with
its .pyc files written (PYTHONDONTWRITEBYTECODE is dropped: an installed package has them)
and its own cache dir (XDG_CACHE_HOME). With hyperfine on PATH (Debian: `apt-get install
hyperfine`) it measures; otherwise (or with --python) a Python harness runs each command N
times, interleaved, and takes the median. Wall time depends on the machine's load; the CPU
time (user + system) much less, so both are reported, each also as a multiple of the baseline.

    PYTHONPATH=src python bench/hook_latency.py [--runs 30] [--python] [--src DIR]

`--src DIR` measures another checkout's code (e.g. the main branch's `src`, for a before/after
on one machine at one time). Targets on the 2-core dev machine: p50 <= 150 ms local (warm),
<= 60 ms with --server.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
AGENTS = ROOT / "examples" / "agents"
EVENT = {"session_id": "bench", "cwd": str(ROOT), "hook_event_name": "UserPromptSubmit",
         "prompt": "I was charged twice for my subscription this month, can I get a refund?"}
TARGETS_MS = {"local-warm": 150.0, "server": 60.0}
MODES = ("baseline", "startup", "server", "local-warm", "local-edited", "local-cold")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "switchyard.cli", "serve", "--agents", str(AGENTS),
                             "--port", str(port), "--no-access-log"],
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


def python_harness(commands: dict[str, tuple[str, str]], runs: int,
                   env: dict[str, str]) -> dict[str, tuple[float, float]]:
    """(p50 wall ms, mean CPU ms) per command; each command is (shell line, prepare line)."""
    wall: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(2 + runs):  # two warm-up rounds: page cache, .pyc files
        for name, (line, prepare) in commands.items():
            subprocess.run(prepare, shell=True, env=env, check=True)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(line, shell=True, env=env, check=True, stdout=subprocess.DEVNULL)
            elapsed = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if round_ >= 2:
                wall[name].append(elapsed * 1000)
                cpu[name].append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000)
    return {n: (statistics.median(wall[n]), statistics.fmean(cpu[n])) for n in commands}


def hyperfine(commands: dict[str, tuple[str, str]], runs: int,
              env: dict[str, str]) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "hyperfine.json"
        argv = ["hyperfine", "--warmup", "3", "--runs", str(runs), "--style", "basic",
                "--export-json", str(out)]
        for line, prepare in commands.values():
            argv += ["--prepare", prepare]
        for name, (line, _) in commands.items():
            argv += ["--command-name", name, f"{line} > /dev/null"]
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        results = json.loads(out.read_text())["results"]
    # hyperfine's CPU times include the shell that runs each command (~1 ms); so does the baseline.
    return {r["command"]: (r["median"] * 1000, (r["user"] + r["system"]) * 1000) for r in results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--python", action="store_true", help="use the Python harness even with hyperfine")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the switchyard source to measure")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as home:
        cache = Path(home) / "cache"
        env = {**os.environ, "SWITCHYARD_HOME": home, "XDG_CACHE_HOME": str(cache),
               "PYTHONPATH": str(args.src.resolve()) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        for name in ("SWITCHYARD_API_KEY", "SWITCHYARD_ENV", "PYTHONDONTWRITEBYTECODE"):
            env.pop(name, None)
        event_file = Path(home) / "event.json"
        event_file.write_text(json.dumps(EVENT))
        empty_file = Path(home) / "empty.json"
        empty_file.write_text(json.dumps({**EVENT, "prompt": ""}))
        script = Path(sys.executable).with_name("switchyard")
        entry = [str(script)] if script.is_file() else [sys.executable, "-m", "switchyard.cli"]
        hook = shlex.join([*entry, "route", "--hook"])
        local = f"{hook} --agents {shlex.quote(str(AGENTS))} < {shlex.quote(str(event_file))}"
        server, url = start_server(env)
        try:
            lines = {
                "baseline": (f"{shlex.quote(sys.executable)} -c pass", "true"),
                "startup": (f"{hook} --agents {shlex.quote(str(AGENTS))} < {shlex.quote(str(empty_file))}", "true"),
                "server": (f"{hook} --server {url} < {shlex.quote(str(event_file))}", "true"),
                "local-warm": (local, "true"),
                "local-edited": (local, f"rm -rf {shlex.quote(str(cache / 'switchyard' / 'hook'))}"),
                "local-cold": (local, f"rm -rf {shlex.quote(str(cache))}"),
            }
            for name in ("local-warm", "server"):  # each mode must answer, or the timing means nothing
                out = subprocess.run(lines[name][0], shell=True, capture_output=True, text=True, env=env)
                if not out.stdout.startswith('{"hookSpecificOutput"'):
                    raise SystemExit(f"{name}: no hook answer (stderr: {out.stderr.strip()!r})")
            tool = "hyperfine" if shutil.which("hyperfine") and not args.python else "python harness"
            measure = hyperfine if tool == "hyperfine" else python_harness
            result = measure(lines, args.runs, env)
        finally:
            server.terminate()
            server.wait(20)

    wall0, cpu0 = result["baseline"]
    print(f"switchyard route --hook ({' '.join(entry[-1:])}; source {args.src}), start to exit, "
          f"{args.runs} runs ({tool}), {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"{'mode':<14}{'p50 ms':>9}{'x base':>8}{'CPU ms':>9}{'x base':>8}{'target ms':>11}")
    for name in MODES:
        wall, cpu = result[name]
        target = f"{TARGETS_MS[name]:.0f}" if name in TARGETS_MS else ""
        print(f"{name:<14}{wall:>9.1f}{wall / wall0:>8.2f}{cpu:>9.1f}{cpu / cpu0:>8.2f}{target:>11}")


if __name__ == "__main__":
    main()
