"""Scale-out benchmark: message-sync and SSE throughput with 1 worker, 2 workers and two
replicas over Postgres and Redis, as ratios to 1 worker, in one run; plus one process without
Redis (on SQLite, the default, and on Postgres) for what the shared state costs.

    SWITCHYARD_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
    SWITCHYARD_TEST_REDIS_URL=redis://127.0.0.1:6379/15 python bench/scale_out.py [--duration 8]

The fake LLM runs in its own process (bench/_fake_llm.py); a private Postgres database is made
for the run and dropped after it; Redis keys carry a prefix of the run's own. Load is driven by
`wrk` (apt-get install wrk): message-sync as in http_bench.py (a new session per request,
c=10), and SSE as `POST /api/message-stream` read to its end (c=10). For two replicas, two wrk
processes drive one replica each (c=5 each) at once and their rates are added. The machine is
shared and noisy: read the ratios, not the absolutes. Writes bench/results/scale_out.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the repository root: tests.support, bench helpers

from bench.http_bench import API_KEY, lua, wait_http, wrk  # noqa: E402
from tests.support.net import free_port  # noqa: E402
from tests.support.postgres import create_private_database, drop_database  # noqa: E402

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def _serve(agent: Path, port: int, env: dict[str, str], workers: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "switchyard.cli", "serve", "--agent", str(agent), "--port", str(port),
           "--workers", str(workers), "--no-access-log"]
    return subprocess.Popen(cmd, env=env)


def _ready(port: int, workers: int) -> None:
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/health", timeout=120)
    import httpx
    # Warm every worker (the first turn loads the LLM SDK): new connections spread over them.
    for _ in range(4 * workers):
        with httpx.Client(timeout=60, headers=AUTH) as c:
            c.post(base + "/api/message-sync", json={"content": "warm up"})


def _drive(ports: list[int], script: str, path: str, duration: int, connections: int) -> dict:
    """wrk against each port at once (connections split between them); rates added."""
    per = max(1, connections // len(ports))
    with ThreadPoolExecutor(len(ports)) as pool:
        runs = list(pool.map(lambda p: wrk(f"http://127.0.0.1:{p}{path}", duration=duration, connections=per,
                                           threads=min(per, 2), script=script, headers=AUTH), ports))
    return {"rps": sum(r["rps"] for r in runs), "requests": sum(r["requests"] for r in runs),
            "errors": sum(r["errors"] for r in runs)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=8)
    args = parser.parse_args()
    pg_base, redis = os.environ.get("SWITCHYARD_TEST_POSTGRES_URL"), os.environ.get("SWITCHYARD_TEST_REDIS_URL")
    if not (pg_base and redis and shutil.which("wrk")):
        print("needs SWITCHYARD_TEST_POSTGRES_URL, SWITCHYARD_TEST_REDIS_URL and wrk", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="switchyard-scale-"))
    database = create_private_database(pg_base)
    procs: list[subprocess.Popen] = []
    results: dict = {"cores": os.cpu_count()}
    try:
        llm_port = free_port()
        procs.append(subprocess.Popen([sys.executable, str(HERE / "_fake_llm.py"), str(llm_port)]))
        llm = {"provider": "openai-compatible", "model": "bench", "apiKey": "sk-bench-unused-0123456789",
               "baseURL": f"http://127.0.0.1:{llm_port}/v1", "maxRetries": 0}
        shared_agent, local_agent = work / "shared.yml", work / "local.yml"
        shared_agent.write_text(json.dumps({"agentId": "bench", "llm": llm,
                                            "storage": {"database": {"type": "postgres", "url": database}}}))
        local_agent.write_text(json.dumps({"agentId": "bench", "llm": llm,
                                           "storage": {"database": {"type": "sqlite", "path": str(work / "b.db")}}}))
        base_env = {**os.environ, "SWITCHYARD_HOME": str(work / "home"), "SWITCHYARD_REQUIRE_AUTH": "true",
                    "SWITCHYARD_API_KEY": API_KEY, "SWITCHYARD_RATE_LIMIT": "100000000/minute",
                    "SWITCHYARD_RATE_LIMIT_PER_ADDRESS": "100000000/minute",
                    "SWITCHYARD_MAX_CONCURRENT_RUNS_PER_KEY": "1000", "SWITCHYARD_LOG_LEVEL": "warning"}
        base_env.pop("SWITCHYARD_REDIS_URL", None)
        shared_env = {**base_env, "SWITCHYARD_REDIS_URL": redis,
                      "SWITCHYARD_REDIS_PREFIX": f"bench-{uuid.uuid4().hex[:8]}"}
        sync = lua(work / "sync.lua", 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                                      'wrk.body = \'{"content": "hello bench"}\'\n')
        setups = [("single process, SQLite, no Redis", local_agent, base_env, [1]),
                  ("single process, Postgres, no Redis", shared_agent, base_env, [1]),
                  ("1 worker (Postgres + Redis)", shared_agent, shared_env, [1]),
                  ("2 workers", shared_agent, shared_env, [2]),
                  ("2 replicas", shared_agent, shared_env, [1, 1])]
        for name, agent, env, layout in setups:
            ports = [free_port() for _ in layout]
            servers = [_serve(agent, port, env, workers) for port, workers in zip(ports, layout)]
            try:
                for port, workers in zip(ports, layout):
                    _ready(port, workers)
                results[name] = {
                    "message_sync": _drive(ports, sync, "/api/message-sync", args.duration, 10),
                    "sse": _drive(ports, sync, "/api/message-stream", args.duration, 10)}
            finally:
                for server in servers:
                    server.terminate()
                for server in servers:
                    try:
                        server.wait(30)
                    except subprocess.TimeoutExpired:
                        server.kill()
            time.sleep(1)
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
        drop_database(database, pg_base)
        shutil.rmtree(work, ignore_errors=True)

    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "scale_out.json").write_text(json.dumps(results, indent=2))
    base = results["1 worker (Postgres + Redis)"]
    print(f"{'setup':36} {'message-sync req/s':>20} {'ratio':>6} {'SSE streams/s':>15} {'ratio':>6}")
    for name, r in results.items():
        if not isinstance(r, dict):
            continue
        print(f"{name:36} {r['message_sync']['rps']:20.0f} {r['message_sync']['rps'] / base['message_sync']['rps']:6.2f}"
              f" {r['sse']['rps']:15.0f} {r['sse']['rps'] / base['sse']['rps']:6.2f}"
              + ("  (errors: %d/%d)" % (r["message_sync"]["errors"], r["sse"]["errors"])
                 if r["message_sync"]["errors"] or r["sse"]["errors"] else ""))
    print(f"ratios are to '1 worker (Postgres + Redis)'; {results['cores']} cores, shared with other work")
    return 0


if __name__ == "__main__":
    sys.exit(main())
