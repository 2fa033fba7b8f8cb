"""CPU per streamed chat completion through the official `openai` SDK, four ways, in one run.

    python bench/llm_transport.py [--requests 300]

Starts the benchmark fake LLM (bench/_fake_llm.py) in its own process and measures, in this
process, the CPU time of one short streamed completion:
  sdk-create     client.chat.completions.create(...)       (typed params and chunk models)
  sdk-post       client.post(..., stream_cls=AsyncStream[object])    (dict chunks)
  sdk-post-aio   the same over the SDK's aiohttp transport   (what Switchyard uses)
  raw-httpx      plain httpx, no SDK                          (the floor)
Ratios against sdk-create are the result; absolute numbers depend on the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the repository root: tests.support

from tests.support.net import free_port  # noqa: E402


async def measure(requests: int, base: str) -> dict[str, list[float]]:
    from openai import AsyncOpenAI, AsyncStream, DefaultAioHttpClient

    body = {"model": "bench", "messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "hello"}],
            "stream": True, "stream_options": {"include_usage": True}}
    plain = AsyncOpenAI(api_key="sk-bench", base_url=base, max_retries=0)
    aio = AsyncOpenAI(api_key="sk-bench", base_url=base, max_retries=0, http_client=DefaultAioHttpClient())
    raw = httpx.AsyncClient()

    async def sdk_create() -> None:
        async for _ in await plain.chat.completions.create(**body):
            pass

    def post(client):  # noqa: ANN001, ANN202
        async def run() -> None:
            stream = await client.post("/chat/completions", body=body, cast_to=object, stream=True,
                                       stream_cls=AsyncStream[object])
            async for _ in stream:
                pass
        return run

    async def raw_httpx() -> None:
        async with raw.stream("POST", base + "/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: {"):
                    json.loads(line[6:])

    variants = {"sdk-create": sdk_create, "sdk-post": post(plain), "sdk-post-aio": post(aio), "raw-httpx": raw_httpx}
    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(3):  # interleaved rounds, so load changes hit every variant alike
        for name, run in variants.items():
            for _ in range(20):
                await run()
            start = time.process_time()
            for _ in range(requests):
                await run()
            results[name].append((time.process_time() - start) * 1000 / requests)
    await plain.close()
    await aio.close()
    await raw.aclose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, str(HERE / "_fake_llm.py"), str(port)])
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        results = asyncio.run(measure(args.requests, f"http://127.0.0.1:{port}/v1"))
    finally:
        server.terminate()
        server.wait(10)
    baseline = min(results["sdk-create"])
    for name, values in results.items():
        best = min(values)
        print(f"{name:14s} {best:6.2f} ms CPU/request   {best / baseline:5.2f}x sdk-create")
    return 0


if __name__ == "__main__":
    sys.exit(main())
