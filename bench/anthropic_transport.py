"""CPU per streamed Anthropic completion: the SDK's typed `messages.create` on its default
transport, against Switchyard's AnthropicClient (the SDK's `post` with events as dicts, on
the SDK's aiohttp transport), in one run.

    python bench/anthropic_transport.py [N] [ROUNDS]

The scripted fake LLM (tests/support/fake_llm.py) runs in a thread of this process; only the calling
thread's CPU time is counted. Variants are interleaved; the best round of each is reported.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.fake_llm import FakeLLM, Text  # noqa: E402

from switchyard.config.schema import LLMConfig  # noqa: E402
from switchyard.llm.anthropic_provider import AnthropicClient  # noqa: E402
from switchyard.llm.factory import resolve_llm  # noqa: E402

MESSAGES = [{"role": "user", "content": "hello " * 20}] * 5
KEY = "sk-ant-bench-0123456789abcdef"


async def typed_create(fake: FakeLLM):  # noqa: ANN201
    from anthropic import AsyncAnthropic
    client = AsyncAnthropic(api_key=KEY, base_url=fake.anthropic_base_url, max_retries=0)

    async def one() -> None:
        stream = await client.messages.create(model="claude-bench", max_tokens=64, stream=True,
                                              messages=[{"role": m["role"], "content": m["content"]}
                                                        for m in MESSAGES])
        async for _event in stream:
            pass
    return one, client.close


async def switchyard_client(fake: FakeLLM):  # noqa: ANN201
    cfg = LLMConfig(provider="anthropic", model="claude-bench", apiKey=KEY, baseURL=fake.anthropic_base_url,
                    maxRetries=0)
    client = AnthropicClient(resolve_llm(cfg, {}), cfg)

    async def one() -> None:
        async for _delta in client.stream(MESSAGES, []):
            pass
    return one, client.aclose


async def per_completion_ms(fake: FakeLLM, one, n: int) -> float:  # noqa: ANN001
    start = time.thread_time()
    for _ in range(n):
        fake.script(Text("a reply of several words", chunks=4, usage=(30, 5)))
        await one()
    return (time.thread_time() - start) / n * 1000


async def main(n: int, rounds: int) -> None:
    fake = FakeLLM().start()
    closers = []
    try:
        variants = {"typed messages.create, default transport": await typed_create(fake),
                    "Switchyard AnthropicClient": await switchyard_client(fake)}
        closers = [close for _, close in variants.values()]
        variants = {name: one for name, (one, _) in variants.items()}
        for one in variants.values():
            await per_completion_ms(fake, one, 20)
        best = {name: float("inf") for name in variants}
        for _ in range(rounds):
            for name, one in variants.items():
                best[name] = min(best[name], await per_completion_ms(fake, one, n))
    finally:
        for close in closers:
            await close()
        fake.stop()
    base = best["typed messages.create, default transport"]
    for name, ms in best.items():
        print(f"{name:42s} {ms:6.3f} ms CPU per completion   {ms / base * 100:5.1f}%")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 150, int(sys.argv[2]) if len(sys.argv) > 2 else 4))
