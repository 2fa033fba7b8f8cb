"""The benchmarks' fake LLM: the tests' scripted fake (tests/support/fake_llm.py) in a process of
its own, so that its CPU is not counted as the server's. It answers every request with a short
streamed reply; a user message starting with `latency` is answered with chunks that carry the
time they were sent (time.time_ns()), 50 ms apart.

    python bench/_fake_llm.py PORT
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: tests.support

from tests.support.fake_llm import FakeLLM, Stamped, Step, Text, last_user_text  # noqa: E402


def bench_reply(body: dict) -> Step:
    if last_user_text(body).startswith("latency"):
        return Stamped(chunks=10, chunk_delay=0.05, usage=(10, 10))
    return Text("bench reply", chunks=2, usage=(10, 2))


if __name__ == "__main__":
    FakeLLM(default=bench_reply, keep_requests=1).serve(int(sys.argv[1]), loop="uvloop", http="httptools")
