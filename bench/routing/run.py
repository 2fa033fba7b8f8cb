"""Routing quality and speed: top-1 accuracy per layer and combined on a labelled set, and
decision latency with the example agents and with a synthetic 50-agent setup.

    python bench/routing/run.py                    # held-out test set (bench/routing/test.jsonl)
    python bench/routing/run.py --set test2        # the second held-out set (round 3)
    python bench/routing/run.py --set dev          # the tuning set
    python bench/routing/run.py --no-semantic      # rules and lexical only
    python bench/routing/run.py --set dev2 --latency-only --model DIR   # 50-agent latency of
        another [semantic] model (sets SWITCHYARD_ROUTER_MODEL, routing/semantic.py)
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

from switchyard.config.schema import AgentConfig
from switchyard.routing import minilm, semantic
from switchyard.routing.cli import load_agents_dir
from switchyard.routing.eval import evaluate, format_report, load_cases
from switchyard.routing.router import Router

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FALLBACK = "general"

CONFIGS = [  # (label, layers)
    ("rules only", ["rules"]),
    ("lexical only", ["lexical"]),
    ("rules+lexical", ["rules", "lexical"]),
    ("semantic only", ["semantic"]),
    ("combined, numpy MiniLM (default install)", ["rules", "lexical", "semantic"]),
    ("combined, static embeddings", "static"),
    ("combined, [semantic] (torch)", "torch"),
]


def synthetic_agents(real: list[AgentConfig], total: int, seed: int = 7) -> list[AgentConfig]:
    """The real agents plus generated ones up to `total`: each with a description, 8
    keywords, a pattern and 30 examples drawn from its own made-up vocabulary, so index
    sizes resemble real agents'."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ter", "vos", "ran", "pel", "dus", "qui", "zen", "bor", "fa"]
    agents = list(real)
    i = 0
    while len(agents) < total:
        vocab = ["".join(rng.choice(syllables) for _ in range(3)) for _ in range(40)]
        examples = [" ".join(["how", "do", "i"] + rng.sample(vocab, 6)) for _ in range(30)]
        agents.append(AgentConfig.model_validate({
            "agentId": f"synthetic-{i}",
            "routing": {"description": "Helps with " + ", ".join(vocab[:20]),
                        "keywords": vocab[:8], "patterns": [rf"(?i)\b{vocab[0]}-\d+\b"],
                        "examples": examples}}))
        i += 1
    return agents


def latency(router: Router, texts: list[str]) -> tuple[float, float]:
    router.route_sync("warm-up")
    times = [router.route_sync(t).latency_ms for t in texts]
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", choices=["test", "test2", "test3", "dev", "dev2", "devall"], default="test",
                    help="devall = dev + dev2 (the tuning data)")
    ap.add_argument("--no-semantic", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="print full reports (confusion tables)")
    ap.add_argument("--latency-only", action="store_true", help="skip the accuracy table")
    ap.add_argument("--model", metavar="DIR", help="the [semantic] model directory "
                    "(default: $SWITCHYARD_ROUTER_MODEL, else the bundled MiniLM)")
    args = ap.parse_args()
    if args.model:
        os.environ[semantic.MODEL_ENV] = args.model

    loaded = load_agents_dir(ROOT / "examples" / "agents")
    agents = [la.config for la in loaded]
    known = [a.agentId for a in agents]
    names = ["dev", "dev2"] if args.set == "devall" else [args.set]
    cases = [c for n in names for c in load_cases(HERE / f"{n}.jsonl", known_agents=known)]
    kinds = {c.kind for c in cases}
    print(f"{args.set} set: {len(cases)} messages, {len(agents)} agents "
          f"(fallback {FALLBACK}), kinds: {sorted(k for k in kinds if k)}")
    use_semantic = not args.no_semantic and minilm.unavailable_reason() is None
    use_torch = not args.no_semantic and semantic.available()
    if not args.no_semantic and not use_semantic:
        print(f"semantic layer skipped: {minilm.unavailable_reason()}")

    print(f"\n{'configuration':<36} {'top-1':>7} {'normal':>8} {'near-miss':>10} {'none':>7} {'p50 ms':>8} {'p95 ms':>8}")
    for label, layers in ([] if args.latency_only else CONFIGS):
        if layers == "static":  # all layers, the semantic one from the shipped embeddings
            router = Router(agents, fallback=FALLBACK, semantic="static")
        elif layers == "torch":  # all layers, the model through sentence-transformers
            if not use_torch:
                continue
            router = Router(agents, fallback=FALLBACK, embedder=semantic.LocalEmbedder())
        elif "semantic" in layers and not use_semantic:
            continue
        else:
            router = Router(agents, fallback=FALLBACK, semantic="semantic" in layers, layers=layers)
        result = evaluate(router, cases)
        by_kind = result.accuracy_by("kind")
        cell = lambda k: f"{by_kind[k][0] / by_kind[k][1]:.1%}" if k in by_kind else "-"
        print(f"{label:<36} {result.accuracy:>7.1%} {cell('normal'):>8} {cell('near-miss'):>10} "
              f"{cell('none'):>7} {result.percentile(50):>8.2f} {result.percentile(95):>8.2f}")
        if args.verbose:
            print(format_report(result, title=f"--- {label}"), "\n")

    texts = [c.text for c in cases]
    print("\ndecision latency with 50 agents (10 real + 40 synthetic), all messages of the set:")
    many = synthetic_agents(agents, 50)
    t0 = time.perf_counter()
    router = Router(many, fallback=FALLBACK, semantic=False)
    build = (time.perf_counter() - t0) * 1000
    p50, p95 = latency(router, texts)
    print(f"  rules+lexical:          p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  (index build {build:.0f} ms)")
    t0 = time.perf_counter()
    router = Router(many, fallback=FALLBACK, semantic="static")
    build = (time.perf_counter() - t0) * 1000
    p50, p95 = latency(router, texts)
    print(f"  default install (static embeddings): p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  "
          f"(index build {build:.0f} ms)")
    full = [("numpy MiniLM (default install)", lambda: minilm.NumpyMiniLM(), use_semantic),
            (f"[semantic] torch ({semantic.model_path().name if semantic.model_path() else '-'})",
             lambda: semantic.LocalEmbedder(), use_torch)]
    for label, make, wanted in full:
        if not wanted:
            continue
        t0 = time.perf_counter()
        embedder = make()  # loaded before the clock starts: the build embeds the texts
        print(f"  {label}: model loaded in {(time.perf_counter() - t0) * 1000:.0f} ms (or earlier, if cached)")
        t0 = time.perf_counter()
        router = Router(many, fallback=FALLBACK, embedder=embedder)
        build = (time.perf_counter() - t0) * 1000
        p50, p95 = latency(router, texts)
        print(f"  {label}: p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  (index build {build:.0f} ms, "
              f"{router._semantic._matrix.shape[0]} texts embedded)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
