"""A longer schemathesis run over /openapi.json than the test suite's (tests/e2e/test_openapi_fuzz.py):
the same server (the `echo` model, development mode), the same exclusions and checks, more
examples per operation. Not part of the test run.

    PYTHONPATH=src python bench/fuzz_openapi.py [--examples 100] [--random]

`--random` drops `--generation-deterministic` (new inputs each run; schemathesis prints the seed
to replay). Exits with schemathesis's status; its report is printed as it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.test_openapi_fuzz import (CHAT, CHECKS, MCP_PATHS, NOT_FUZZED,  # noqa: E402
                                         make_fuzz_app, schemathesis_run)
from tests.support.live_server import LiveServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="examples per operation")
    parser.add_argument("--random", action="store_true", help="not deterministic: new inputs each run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["SWITCHYARD_HOME"] = home
        server = LiveServer(make_fuzz_app).start()
        status = 0
        try:
            excluded = [a for op in NOT_FUZZED + [CHAT] for a in ("--exclude-operation-id", op)]
            runs = [(CHECKS + ["positive_data_acceptance"], [*excluded, "--exclude-path-regex", MCP_PATHS]),
                    (CHECKS, ["--include-operation-id", CHAT])]
            for checks, selection in runs:
                started = time.monotonic()
                result = schemathesis_run(server.url, Path(home), checks, *selection, examples=args.examples,
                                          deterministic=not args.random)
                print(result.stdout[-20000:], result.stderr[-4000:], sep="\n")
                print(f"-- {time.monotonic() - started:.1f} s, exit {result.returncode}")
                status = status or result.returncode
        finally:
            server.stop()
    return status


if __name__ == "__main__":
    raise SystemExit(main())
