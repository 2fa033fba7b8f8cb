"""The router's LLM layer: how many messages reach it, what it could gain, what a model does.

    python bench/routing/llm_layer.py --set dev2 [--no-semantic]
    python bench/routing/llm_layer.py --set dev2 --llm examples/agents/local-router.yml

Below the confidence threshold (or when "fits none" ranks first) the async router asks an
LLM to choose among the agents' descriptions. `run.py` measures `route_sync`, without it.
This reports, on a labelled set: the share of messages left unsettled by the scores, the
accuracy on settled and unsettled messages, the ceiling a perfect LLM layer would reach
(every unsettled message right), and, with `--llm FILE` (any agent YAML: its `llm` block is
the router's model, e.g. the local SmolLM2 or a hosted model with its key in the environment),
what the full async router (threshold and close calls) does with that model.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from switchyard.config import load_agent
from switchyard.llm.factory import create_llm_client
from switchyard.routing.cli import load_agents_dir
from switchyard.routing.eval import load_cases
from switchyard.routing.router import Router

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FALLBACK = "general"


def pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default="dev2", help="a labelled set in bench/routing (NAME.jsonl)")
    ap.add_argument("--no-semantic", action="store_true")
    ap.add_argument("--llm", help="an agent YAML whose llm block is the router's model")
    ap.add_argument("--limit", type=int, default=0, help="with --llm: only the first N messages")
    args = ap.parse_args()

    agents = [la.config for la in load_agents_dir(ROOT / "examples" / "agents")]
    cases = load_cases(HERE / f"{args.set}.jsonl", known_agents=[a.agentId for a in agents])
    # --no-semantic: rules + lexical; else the full model when installed, else the static
    # embeddings of the default install (the router's "auto").
    use_semantic = False if args.no_semantic else "auto"
    router = Router(agents, fallback=FALLBACK, semantic=use_semantic)
    print(f"{args.set}: {len(cases)} messages; layers {', '.join(router.layers)}; "
          f"embedder {router.embedder_kind}")

    settled_right = settled = unsettled_right = 0
    unsettled_cases = []
    margins = []  # settled messages: (gap between the first two agents, decided right)
    for case in cases:
        ranked = router.rank(case.text)
        # Private on purpose: which messages the scores settle is what this bench is about.
        decided = router._decide(ranked, None)  # noqa: SLF001
        if decided is not None:
            settled += 1
            settled_right += decided.agent_id == case.agent
            gap = ranked[0].score - ranked[1].score if len(ranked) > 1 else 1.0
            margins.append((gap, decided.agent_id == case.agent))
        else:
            unsettled_right += router.route_sync(case.text).agent_id == case.agent
            unsettled_cases.append(case)
    unsettled = len(unsettled_cases)
    total = len(cases)
    print(f"settled by the scores:  {settled} ({pct(settled, total)}), right {pct(settled_right, settled)}")
    print(f"unsettled (LLM layer):  {unsettled} ({pct(unsettled, total)}), right without an LLM "
          f"{pct(unsettled_right, unsettled)}")
    print(f"top-1 without an LLM:   {pct(settled_right + unsettled_right, total)}")
    print(f"ceiling, perfect LLM:   {pct(settled_right + unsettled, total)}")

    # Where the settled mistakes are: if they sit at small margins between the first two
    # agents, asking the LLM there too (not only below the threshold) could recover them.
    print("\nalso asking the LLM when the first two agents are closer than a margin (perfect LLM):")
    print(f"  {'margin':>6} {'sent to LLM':>12} {'ceiling':>8}")
    for margin in (0.02, 0.05, 0.1, 0.15, 0.2):
        sent = [right for gap, right in margins if gap < margin]
        kept_right = sum(right for gap, right in margins if gap >= margin)
        print(f"  {margin:>6.2f} {pct(unsettled + len(sent), total):>12} "
              f"{pct(kept_right + len(sent) + unsettled, total):>8}")

    if args.llm:
        config = load_agent(args.llm).config
        client = create_llm_client(config.llm)
        with_llm = Router(agents, fallback=FALLBACK, semantic=use_semantic, llm=client, llm_timeout=120)
        chosen = cases[: args.limit] if args.limit else cases
        right = base = asked = 0
        start = time.perf_counter()
        try:
            for case in chosen:
                decision = await with_llm.route(case.text)
                asked += "LLM (" in decision.reason
                right += decision.agent_id == case.agent
                base += router.route_sync(case.text).agent_id == case.agent
        finally:
            await client.aclose()
        seconds = time.perf_counter() - start
        print(f"\nwith {client.provider}/{client.model} (llm_margin {with_llm.llm_margin:.2f}) on "
              f"{len(chosen)} messages: top-1 {pct(right, len(chosen))} (without it {pct(base, len(chosen))}); "
              f"the LLM was asked {asked} times ({pct(asked, len(chosen))}); {seconds:.0f} s in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
