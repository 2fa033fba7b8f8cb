"""The cosine spread of a [semantic] model on the tuning sets, and the kNN rescaling
constants (`low` -> 0, `high` -> 1; semantic.MODEL_SCALES) derived from it.

    PYTHONPATH=src python bench/routing/model_scale.py                 # the bundled MiniLM
    PYTHONPATH=src python bench/routing/model_scale.py --model DIR     # another model

For every tuning message (the four tuning sets of bench/routing/sets and the rich dev+dev2;
held-out sets are never read) and every agent, the semantic layer's raw score -- (best cosine +
mean of the 3 best) / 2 over the agent's texts, without hub correction -- is "related" when
the agent is the message's own (messages meant for the fallback excluded) and "unrelated"
otherwise. MiniLM's constants (0.10, 0.70) sit at a quantile of its unrelated scores and a
quantile of its related ones; another model's constants are the same quantiles of its own
distributions, so that both models' 0..1 scores mean the same thing to the profile.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from switchyard.routing import semantic
from switchyard.routing.agent_texts import semantic_texts

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import tune_sets  # noqa: E402

REFERENCE = (semantic.LOW, semantic.HIGH)  # MiniLM's constants, chosen in round 3


def raw_scores(embedder) -> tuple[np.ndarray, np.ndarray]:
    related, unrelated = [], []
    for name, agents, msgs, fb in tune_sets.tuning_sets():
        index = semantic.SemanticIndex({a.agentId: semantic_texts(a) for a in agents}, embedder)
        fallback = fb or next((a.agentId for a in agents if a.agentId in ("general", "default")), None)
        q = np.asarray(embedder.encode([m["text"] for m in msgs]), dtype=np.float32)
        for m, qv in zip(msgs, q):
            raw = index.raw(m["text"], qv)
            for agent_id, value in raw.items():
                if agent_id == m["agent"] and agent_id != fallback:
                    related.append(value)
                elif agent_id != m["agent"]:
                    unrelated.append(value)
    return np.array(related), np.array(unrelated)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", metavar="DIR")
    ap.add_argument("--reference", metavar="DIR",
                    help="the model whose constants are REFERENCE (default: the bundled MiniLM)")
    args = ap.parse_args()

    def spread(model_dir):
        if model_dir:
            os.environ[semantic.MODEL_ENV] = model_dir
        else:
            os.environ.pop(semantic.MODEL_ENV, None)
        emb = semantic.LocalEmbedder()
        rel, unrel = raw_scores(emb)
        qs = [5, 25, 50, 75, 95]
        print(f"{emb.name}: related n={len(rel)} "
              + " ".join(f"p{q} {np.percentile(rel, q):.3f}" for q in qs)
              + f"; unrelated n={len(unrel)} "
              + " ".join(f"p{q} {np.percentile(unrel, q):.3f}" for q in qs))
        return emb.name, rel, unrel

    _, ref_rel, ref_unrel = spread(args.reference)
    low_q = 100 * float(np.mean(ref_unrel <= REFERENCE[0]))
    high_q = 100 * float(np.mean(ref_rel <= REFERENCE[1]))
    print(f"reference constants {REFERENCE}: low at the p{low_q:.1f} of unrelated scores, "
          f"high at the p{high_q:.1f} of related scores")
    if args.model:
        name, rel, unrel = spread(args.model)
        low, high = np.percentile(unrel, low_q), np.percentile(rel, high_q)
        print(f"{name}: low {low:.3f} high {high:.3f} (rounded: {low:.2f}, {high:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
