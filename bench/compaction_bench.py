"""What fitting a long session into the model's window costs per turn, on SQLite, in one run:

    python bench/compaction_bench.py [--messages 10000] [--turns 200] [--window 128000] [--model gpt-4o]

A session of `--messages` stored messages (a tool call and its results every fifth turn) and
a model window of `--window` tokens; `--model` decides the counter (runtime/tokens.py): an
OpenAI model name counts with OpenAI's tokenizer when it is installed (the `tokenizers` extra),
any other name with the estimate. Timed, as a turn prepares its request:

- the first turn: the whole context read from the store, every message counted, the oldest
  part summarised (by an in-process FunctionModel: the model's own time is not counted) and
  the summary stored;
- each later turn on the same replica: the kept history taken (with its running token total),
  the turn's user message appended, the request fitted (only the new messages counted, no new
  summary until the window fills again), the history kept again (bounded by the window);
- a later turn on another replica: the context read from the store (from the summary on).

The baseline, in the same run: `json.dumps` of the request the turn sends, which every
provider client does anyway: a later turn's preparation is reported as a ratio to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from switchyard.config.schema import CompactionConfig, LLMConfig  # noqa: E402
from switchyard.ids import new_id, now_ms  # noqa: E402
from switchyard.llm.function import FunctionModel  # noqa: E402
from switchyard.runtime.compaction import ContextFitter, RunningTotal  # noqa: E402
from switchyard.runtime.sessions import LiveSession  # noqa: E402
from switchyard.store import Store  # noqa: E402

AGENT, SESSION, SYSTEM = "bench", "long", "You are a helpful assistant. " * 20
SENTENCE = "the quick brown fox jumps over the lazy dog while the band plays on "


def _turn(i: int) -> list[dict]:
    user = {"id": new_id(), "role": "user", "content": f"question {i}: " + SENTENCE * 3, "timestamp": now_ms()}
    if i % 5:
        return [user, {"id": new_id(), "role": "assistant", "content": f"answer {i}: " + SENTENCE * 4,
                       "timestamp": now_ms()}]
    call = {"id": f"call_{i}", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
    return [user, {"id": new_id(), "role": "assistant", "content": None, "toolCalls": [call], "timestamp": now_ms()},
            {"id": new_id(), "role": "tool", "content": "result " + SENTENCE, "toolCallId": f"call_{i}",
             "name": "lookup", "timestamp": now_ms()},
            {"id": new_id(), "role": "assistant", "content": f"answer {i}", "timestamp": now_ms()}]


async def main(args: argparse.Namespace) -> None:
    tmp = tempfile.mkdtemp()
    store = await Store(f"sqlite:///{tmp}/bench.db").open()
    await store.sessions.create(AGENT, SESSION)
    stored, i = 0, 0
    while stored < args.messages:
        batch = []
        while len(batch) < 500 and stored + len(batch) < args.messages:
            batch.extend(_turn(i))
            i += 1
        await store.sessions.append(AGENT, SESSION, batch)
        stored += len(batch)
    model = FunctionModel(lambda messages, tools, info: "summary: questions and answers about a fox. " * 40,
                          model=args.model, provider="openai" if args.model.startswith("gpt-") else "function")
    fitter = ContextFitter(CompactionConfig(maxContextTokens=args.window))
    cfg = LLMConfig(provider="openai", model="bench")
    live = LiveSession(SESSION)

    async def store_summary(summary: dict, keep_from: str | None) -> None:
        await store.sessions.compact(AGENT, SESSION, summary, keep_from)

    async def fit(messages: list[dict], total: RunningTotal) -> list[dict]:
        request, _ = await fitter.fit(messages, system=SYSTEM, tools=[], client=model, cfg=cfg,
                                      session_id=SESSION, store_summary=store_summary, total=total)
        return request

    started = time.perf_counter()
    counter = await fitter.counter(model)       # once per process: OpenAI's encoding loads here
    load_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    messages = await store.sessions.context(AGENT, SESSION)
    user = {"id": new_id(), "role": "user", "content": "first", "timestamp": now_ms()}
    messages.append(user)
    total = RunningTotal()
    request = await fit(messages, total)
    first_ms = (time.perf_counter() - started) * 1000
    print(f"session of {stored} messages, window {args.window} tokens, model {args.model}: counter "
          f"{counter.key} ({'exact' if counter.exact else 'estimate'}, loaded in {load_ms:.0f} ms)")
    print(f"first turn: read {stored} messages, counted, summarised and stored: {first_ms:.1f} ms; "
          f"request of {len(request)} messages, {fitter.size(request, SYSTEM, [], counter)} tokens")

    prepare, fitting, serialise, summaries, cached = [], [], [], len(model.steps), 0
    mark = (0, 0, 0)
    live.keep_history(messages, mark, total=total, window=args.window)
    for t in range(args.turns):
        started, summaries_before = time.perf_counter(), len(model.steps)
        kept = live.take_history(mark)
        # As a turn does (runtime/turn.py): the kept history with its running total when the
        # cache holds it (bounded by the window), else the context read from the store.
        if kept is not None:
            messages, total = kept, live.history_total
        else:
            messages, total = await store.sessions.context(AGENT, SESSION), RunningTotal()
        cached += kept is not None
        messages.append({"id": new_id(), "role": "user", "content": f"follow-up {t} " + SENTENCE,
                         "timestamp": now_ms()})
        fit_started = time.perf_counter()
        request = await fit(messages, total)
        fitting.append(time.perf_counter() - fit_started)
        answer = {"id": new_id(), "role": "assistant", "content": f"reply {t} " + SENTENCE * 2,
                  "timestamp": now_ms()}
        messages.append(answer)
        mark = (0, t + 1, t + 1)
        live.keep_history(messages, mark, total=total, window=args.window,
                          rebuilt=len(model.steps) != summaries_before)
        prepare.append(time.perf_counter() - started)
        started = time.perf_counter()
        json.dumps(request)
        serialise.append(time.perf_counter() - started)
        await store.sessions.append(AGENT, SESSION, [messages[-2], answer])
    later, base = statistics.median(prepare) * 1000, statistics.median(serialise) * 1000
    print(f"later turns ({args.turns}): prepare {later:.3f} ms median, p95 "
          f"{sorted(prepare)[int(len(prepare) * .95)] * 1000:.3f} ms (the fit alone "
          f"{statistics.median(fitting) * 1000:.3f} ms); json.dumps of the request {base:.3f} ms: "
          f"ratio {later / base:.2f}x; summaries made: {len(model.steps) - summaries}; "
          f"history kept in memory for {cached} of them")

    started = time.perf_counter()
    fresh = await store.sessions.context(AGENT, SESSION)
    await fit(fresh, RunningTotal())
    print(f"a turn on another replica (context read from the summary on, {len(fresh)} messages): "
          f"{(time.perf_counter() - started) * 1000:.1f} ms")
    await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--window", type=int, default=128_000)
    parser.add_argument("--model", default="bench", help="an OpenAI name (gpt-4o) counts with its tokenizer")
    asyncio.run(main(parser.parse_args()))
