"""What FastAPI itself costs on a small JSON GET, against a bare Starlette app, in one run.

    python bench/framework_floor.py [--duration 6] [--rounds 2]

The HTTP issue asks the authenticated GET to reach 70% of a bare Starlette endpoint's
throughput. This measures the ceiling any FastAPI app has before it adds anything of its own
(no middleware, no auth): an empty FastAPI app serving the same JSON through a FastAPI route,
and through a plain Starlette route placed first; and what the eight response headers an
authenticated, rate-limited GET carries cost uvicorn on the bare app, with no check behind
them. Variants are interleaved round by round.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from http_bench import free_port, wait_http, wrk

HERE = Path(__file__).resolve().parent
KINDS = ("bare", "bare-with-headers", "fastapi-starlette-route", "fastapi-route")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    best = {kind: 0.0 for kind in KINDS}
    for _ in range(args.rounds):
        for kind in KINDS:
            port = free_port()
            proc = subprocess.Popen([sys.executable, str(HERE / "_framework_apps.py"), kind, str(port)])
            try:
                wait_http(f"http://127.0.0.1:{port}/json")
                result = wrk(f"http://127.0.0.1:{port}/json", duration=args.duration, connections=50, threads=2)
                best[kind] = max(best[kind], result["rps"])
            finally:
                proc.terminate()
                proc.wait(10)
    floor = best["bare"]
    for kind, rps in best.items():
        print(f"{kind:28s} {rps:10.0f} req/s   {rps / floor * 100:5.1f}% of bare Starlette")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
