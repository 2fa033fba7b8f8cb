"""Source trees' `switchyard serve` side by side in one run, as ratios to a base tree.

    python bench/ab_trees.py --base /path/to/other/checkout [--new CHECKOUT ...] [--rounds 5] [--duration 5] [--turns 1000]

`--new` defaults to this checkout; given several times, each is compared (a before and an after
of a change against the same base, in the same run). The servers run at once (auth on, SQLite,
no Redis, rate limits effectively off) against one benchmark fake LLM in its own process. Every
measure alternates between the trees round by round (the order rotates each round), so that the
shared machine's load falls on all alike; the report is the median of the per-round ratios.
Python's bytecode is cached (PYTHONPYCACHEPREFIX, one folder per tree under the temporary
directory) and a first start of each tree is not counted, so start-up is measured as an
installed package starts. Measures: cold start to the first 200, RSS when started and after
--turns sequential message-sync turns (and the server CPU per such turn), authenticated
`GET /api/llm/current` req/s and server CPU per request, `POST /api/message-sync` (new session,
c=10) req/s and CPU per turn, and `POST /api/message-stream` read to its end (c=10) streams/s
and CPU per stream. Writes bench/results/ab_trees.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the repository root: tests.support, bench

from bench.http_bench import API_KEY, cpu_seconds, lua, measured, rss_mib, wait_http, wrk  # noqa: E402
from tests.support.net import free_port  # noqa: E402

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def serve_command(tree: Path, work: Path, llm_port: int, port: int) -> tuple[list[str], dict]:
    work.mkdir(parents=True, exist_ok=True)
    agent = work / "agent.yml"
    agent.write_text(json.dumps({
        "agentId": "bench", "systemPrompt": "You are a benchmark.",
        "llm": {"provider": "openai-compatible", "model": "bench", "apiKey": "sk-bench-unused-0123456789",
                "baseURL": f"http://127.0.0.1:{llm_port}/v1", "maxRetries": 0},
        "storage": {"database": {"type": "sqlite", "path": str(work / "bench.db")}}}))
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "SWITCHYARD_HOME": str(work / "home"),
           "SWITCHYARD_REQUIRE_AUTH": "true", "SWITCHYARD_API_KEY": API_KEY,
           "SWITCHYARD_RATE_LIMIT": "100000000/minute", "SWITCHYARD_RATE_LIMIT_PER_ADDRESS": "100000000/minute",
           "SWITCHYARD_AUTH_FAILURE_LIMIT": "100000000/minute", "SWITCHYARD_MAX_CONCURRENT_RUNS_PER_KEY": "1000",
           "SWITCHYARD_LOG_LEVEL": "warning"}
    env.pop("SWITCHYARD_REDIS_URL", None)
    # Bytecode cached as an installed package has it (a shell with PYTHONDONTWRITEBYTECODE=1
    # would compile every module at every start), outside the trees; one per tree.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / f"switchyard-ab-pycache-{tree.name}")
    return [sys.executable, "-m", "switchyard.cli", "serve", "--agent", str(agent), "--port", str(port)], env


def cold_start(cmd: list[str], env: dict, port: int) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    try:
        wait_http(f"http://127.0.0.1:{port}/health")
        return time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(30)


def turns(base: str, count: int) -> None:
    with httpx.Client(timeout=30, headers=AUTH) as client:
        for i in range(count):
            r = client.post(base + "/api/message-sync", json={"content": "hello bench", "sessionId": f"t-{i % 50}"})
            r.raise_for_status()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", type=Path, required=True, help="the other checkout (its src/ is used)")
    parser.add_argument("--new", type=Path, action="append",
                        help="a checkout compared to the base (repeat for several; default: this one)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--turns", type=int, default=1000)
    args = parser.parse_args()
    trees = {"base": args.base.resolve()}
    for path in args.new or [HERE.parent]:
        trees[path.resolve().name if args.new and len(args.new) > 1 else "new"] = path.resolve()
    labels = list(trees)
    work = Path(tempfile.mkdtemp(prefix="switchyard-ab-"))
    procs: list[subprocess.Popen] = []
    rows: dict[str, dict[str, list[float]]] = {}

    def record(name: str, label: str, value: float) -> None:
        rows.setdefault(name, {label: [] for label in labels})[label].append(value)

    try:
        llm_port = free_port()
        procs.append(subprocess.Popen([sys.executable, str(HERE / "_fake_llm.py"), str(llm_port)]))
        ports = {label: free_port() for label in trees}
        cmds = {label: serve_command(tree, work / label, llm_port, ports[label]) for label, tree in trees.items()}
        order = labels[1:] + labels[:1]
        for label in order:   # a first start writes the bytecode cache and the databases
            cold_start(*cmds[label], ports[label])
        for _ in range(3):
            for label in order:
                record("cold start to first 200 (s)", label, cold_start(*cmds[label], ports[label]))
            order = order[1:] + order[:1]
        servers = {}
        for label in trees:
            servers[label] = subprocess.Popen(cmds[label][0], env=cmds[label][1])
            procs.append(servers[label])
            wait_http(f"http://127.0.0.1:{ports[label]}/health")
        time.sleep(1.5)
        for label in trees:
            record("RSS idle (MiB)", label, rss_mib(servers[label].pid))
        for label in order:
            before = cpu_seconds(servers[label].pid)
            turns(f"http://127.0.0.1:{ports[label]}", args.turns)
            record(f"CPU ms per sequential turn ({args.turns})", label,
                   1000 * (cpu_seconds(servers[label].pid) - before) / args.turns)
        time.sleep(1)
        for label in trees:
            record(f"RSS after {args.turns} turns (MiB)", label, rss_mib(servers[label].pid))
        post = lua(work / "post.lua", 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                                      'wrk.body = \'{"content": "hello bench"}\'\n')
        d = args.duration
        for _ in range(args.rounds):
            for label in order:
                base, pid = f"http://127.0.0.1:{ports[label]}", servers[label].pid
                get = measured(pid, lambda: wrk(base + "/api/llm/current", duration=d, connections=50, threads=2,
                                                headers=AUTH))
                record("auth GET /api/llm/current req/s", label, get["rps"])
                record("auth GET CPU ms/req", label, get["cpu_ms_per_request"])
                sync = measured(pid, lambda: wrk(base + "/api/message-sync", duration=d, connections=10, threads=2,
                                                 script=post, headers=AUTH))
                record("message-sync new session c=10 req/s", label, sync["rps"])
                record("message-sync CPU ms/turn", label, sync["cpu_ms_per_request"])
                sse = measured(pid, lambda: wrk(base + "/api/message-stream", duration=d, connections=10, threads=2,
                                                script=post, headers=AUTH))
                record("message-stream c=10 streams/s", label, sse["rps"])
                record("message-stream CPU ms/stream", label, sse["cpu_ms_per_request"])
                for result in (get, sync, sse):
                    if result["errors"]:
                        raise RuntimeError(f"{label}: {result['errors']} non-2xx responses")
            order = order[1:] + order[:1]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)

    commits = {label: subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True,
                                     text=True).stdout.strip() for label, tree in trees.items()}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "ab_trees.json").write_text(json.dumps({"commits": commits, "rows": rows}, indent=2))
    print(", ".join(f"{label} = {commit}" for label, commit in commits.items())
          + "; medians, and for each tree the median of its per-round ratios to the base")
    others = labels[1:]
    print(f"{'measure':42} {'base':>10} " + " ".join(f"{label[:10]:>10} {'/base':>6}" for label in others))
    for name, values in rows.items():
        cells = []
        for label in others:
            ratios = [n / b for n, b in zip(values[label], values["base"]) if b]
            cells.append(f"{statistics.median(values[label]):10.3f} {statistics.median(ratios):6.3f}")
        print(f"{name:42} {statistics.median(values['base']):10.3f} " + " ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
