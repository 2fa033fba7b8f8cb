"""HTTP benchmark of `switchyard serve`, with a bare Starlette app as the floor, in one run.

    python bench/http_bench.py [--duration 8]

Starts the benchmark fake LLM, the bare app and Switchyard (auth on, SQLite) as separate
processes and drives them with wrk on loopback. Prints a table and writes
bench/results/http.json. The machine is shared and noisy: read the ratios, not the absolutes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the repository root: tests.support

from tests.support.net import free_port  # noqa: E402

API_KEY = "bench-root-key-0123456789abcdefghij"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_http(url: str, timeout: float = 30.0, headers: dict | None = None) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            if httpx.get(url, timeout=0.5, headers=headers).status_code == 200:
                return time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.005)
    raise TimeoutError(url)


def wrk(url: str, *, duration: int, connections: int, threads: int, script: str | None = None,
        headers: dict | None = None) -> dict:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    for key, value in (headers or {}).items():
        cmd += ["-H", f"{key}: {value}"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    return {"rps": rps, "requests": total, "errors": int(non2xx.group(1)) if non2xx else 0,
            "p50_ms": float(p50.group(1)) * scale[p50.group(2)] if p50 else None}


def measured(pid: int, run) -> dict:  # noqa: ANN001
    before = cpu_seconds(pid)
    result = run()
    result["server_cpu_s"] = cpu_seconds(pid) - before
    result["cpu_ms_per_request"] = 1000 * result["server_cpu_s"] / max(1, result["requests"])
    return result


def lua(path: Path, body: str) -> str:
    path.write_text(body)
    return str(path)


def chunk_latency(base: str, samples: int = 5) -> list[float]:
    """Milliseconds from the fake model sending a chunk to the SSE client reading it."""
    latencies = []
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(timeout=30, headers=headers) as client:
        for i in range(samples):
            with client.stream("POST", base + "/api/message-stream",
                               json={"content": "latency probe", "sessionId": f"latency-{i}"}) as r:
                if r.status_code != 200:
                    raise RuntimeError(f"latency probe: HTTP {r.status_code}: {r.read()[:300]!r}")
                for line in r.iter_lines():
                    if line.startswith("data:") and '"llm:chunk"' in line:
                        now = time.time_ns()
                        for stamp in re.findall(r"<(\d+)>", line):
                            latencies.append((now - int(stamp)) / 1e6)
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--sessions", type=int, default=10_000)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="switchyard-bench-"))
    procs: list[subprocess.Popen] = []
    results: dict = {}
    try:
        llm_port, bare_port, sy_port = free_port(), free_port(), free_port()
        procs.append(subprocess.Popen([sys.executable, str(HERE / "_fake_llm.py"), str(llm_port)]))
        bare = subprocess.Popen([sys.executable, str(HERE / "_bare_app.py"), str(bare_port)])
        procs.append(bare)
        agent = work / "agent.yml"
        agent.write_text(json.dumps({
            "agentId": "bench", "systemPrompt": "You are a benchmark.",
            "llm": {"provider": "openai-compatible", "model": "bench", "apiKey": "sk-bench-unused-0123456789",
                    "baseURL": f"http://127.0.0.1:{llm_port}/v1", "maxRetries": 0},
            "storage": {"database": {"type": "sqlite", "path": str(work / "bench.db")}}}))
        env = {**os.environ, "SWITCHYARD_HOME": str(work / "home"), "SWITCHYARD_REQUIRE_AUTH": "true",
               "SWITCHYARD_API_KEY": API_KEY, "SWITCHYARD_RATE_LIMIT": "100000000/minute", "SWITCHYARD_RATE_LIMIT_PER_ADDRESS": "100000000/minute",
               "SWITCHYARD_AUTH_FAILURE_LIMIT": "100000000/minute",
               "SWITCHYARD_MAX_CONCURRENT_RUNS_PER_KEY": "1000", "SWITCHYARD_LOG_LEVEL": "warning"}
        serve = [sys.executable, "-m", "switchyard.cli", "serve", "--agent", str(agent), "--port", str(sy_port)]

        # Cold start: process start to the first 200, three times.
        colds = []
        for _ in range(3):
            start = time.perf_counter()
            p = subprocess.Popen(serve, env=env)
            wait_http(f"http://127.0.0.1:{sy_port}/health")
            colds.append(time.perf_counter() - start)
            p.terminate()
            p.wait(30)
        results["cold_start_s"] = statistics.median(colds)

        server = subprocess.Popen(serve, env=env)
        procs.append(server)
        base = f"http://127.0.0.1:{sy_port}"
        wait_http(base + "/health")
        wait_http(f"http://127.0.0.1:{bare_port}/health")
        auth = {"Authorization": f"Bearer {API_KEY}"}
        time.sleep(1)
        results["rss_idle_mib"] = rss_mib(server.pid)  # started, nothing served yet
        httpx.post(base + "/api/message-sync", json={"content": "warm up"}, headers=auth, timeout=30)
        time.sleep(1)
        results["rss_warm_mib"] = rss_mib(server.pid)  # the LLM SDK loaded by a first message

        d = args.duration
        results["bare_health"] = measured(bare.pid, lambda: wrk(f"http://127.0.0.1:{bare_port}/health",
                                                                duration=d, connections=50, threads=2))
        results["bare_json"] = measured(bare.pid, lambda: wrk(f"http://127.0.0.1:{bare_port}/json",
                                                              duration=d, connections=50, threads=2))
        results["health"] = measured(server.pid, lambda: wrk(base + "/health", duration=d, connections=50, threads=2))
        results["auth_get"] = measured(server.pid, lambda: wrk(base + "/api/llm/current", duration=d,
                                                               connections=50, threads=2, headers=auth))
        post = lua(work / "new_session.lua",
                   'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                   'wrk.body = \'{"content": "hello bench"}\'\n')
        results["sync_new_session"] = measured(server.pid, lambda: wrk(
            base + "/api/message-sync", duration=d, connections=10, threads=2, script=post, headers=auth))
        per_conn = lua(work / "per_connection.lua",
                       'local counter = 0\nfunction setup(thread)\n counter = counter + 1\n'
                       ' thread:set("sid", "conn-" .. counter)\nend\n'
                       'function init(args)\n wrk.method = "POST"\n wrk.headers["Content-Type"] = "application/json"\n'
                       ' wrk.body = \'{"content": "hello bench", "sessionId": "\' .. sid .. \'"}\'\nend\n')
        results["sync_session_per_connection"] = measured(server.pid, lambda: wrk(
            base + "/api/message-sync", duration=d, connections=10, threads=10, script=per_conn, headers=auth))

        # Sessions: keep creating new ones until --sessions have been made, then read RSS.
        made = results["sync_new_session"]["requests"]
        while made < args.sessions:
            made += wrk(base + "/api/message-sync", duration=4, connections=10, threads=2, script=post,
                        headers=auth)["requests"]
        time.sleep(1)
        results["sessions_created"] = made
        results["rss_after_sessions_mib"] = rss_mib(server.pid)
        lat = chunk_latency(base)
        results["chunk_to_client_ms"] = {"p50": statistics.median(lat), "max": max(lat), "n": len(lat)}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)

    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "http.json").write_text(json.dumps(results, indent=2))
    report(results)
    return 0


def report(r: dict) -> None:
    floor_h, floor_j = r["bare_health"]["rps"], r["bare_json"]["rps"]
    # CPU per bare request: the machine-speed unit of this run (shared hosts vary 2x).
    unit = r["bare_json"]["cpu_ms_per_request"]
    rows = [
        ("GET /health req/s", r["health"]["rps"], f"{r['health']['rps'] / floor_h:.0%} of bare Starlette ({floor_h:.0f})", ">= 6500 and >= 70%"),
        ("auth GET /api/llm/current req/s", r["auth_get"]["rps"], f"{r['auth_get']['rps'] / floor_j:.0%} of bare JSON ({floor_j:.0f})", ">= 4100 and >= 70%"),
        ("message-sync, new session, c=10 req/s", r["sync_new_session"]["rps"], f"{r['sync_new_session']['rps'] / 80:.1f}x the reference's ~80", ">= 240"),
        ("message-sync, session/connection, c=10 req/s", r["sync_session_per_connection"]["rps"], f"{r['sync_session_per_connection']['rps'] / 80:.1f}x the reference's ~80", ">= 240"),
        ("server CPU ms per message-sync (new session)", r["sync_new_session"]["cpu_ms_per_request"],
         f"= {r['sync_new_session']['cpu_ms_per_request'] / unit:.0f}x a bare JSON request's CPU ({unit:.3f} ms)", "<= 3"),
        ("server CPU ms per message-sync (per connection)", r["sync_session_per_connection"]["cpu_ms_per_request"],
         f"= {r['sync_session_per_connection']['cpu_ms_per_request'] / unit:.0f}x a bare JSON request's CPU", "<= 3"),
        ("model chunk -> SSE client p50 ms", r["chunk_to_client_ms"]["p50"], f"max {r['chunk_to_client_ms']['max']:.1f} ms", ""),
        ("RSS idle MiB (started, nothing served)", r["rss_idle_mib"], "reference ~205", "<= 100"),
        ("RSS after one message MiB", r["rss_warm_mib"], "the LLM SDK is loaded on first use", ""),
        (f"RSS after {r['sessions_created']} sessions MiB", r["rss_after_sessions_mib"], f"{r['rss_after_sessions_mib'] - r['rss_warm_mib']:+.1f} MiB vs after one message", "flat"),
        ("cold start to first 200 s", r["cold_start_s"], "reference ~1.0", "<= 1"),
    ]
    for name, value, note, target in rows:
        print(f"{name:50s} {value:10.2f}   {note:40s} target {target}")


if __name__ == "__main__":
    sys.exit(main())
