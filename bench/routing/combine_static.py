"""Round 7: does the static layer still add anything next to all-MiniLM-L6-v2 (numpy)?

    PYTHONPATH=src python bench/routing/combine_static.py

On the tuning sets only (tune_sets.tuning_sets: sparse-shop, zero-home, sparse-travel,
sparse-bank, rich dev+dev2), the semantic layer's score is taken as
    share * MiniLM score + (1 - share) * static score
(each from its own index, with its own calibration and hub correction) and the router's other
layers as they are. Reported per share: accuracy with the "full" profile's constants, and
leave-one-set-out accuracy over a small grid of constants (as tune_sets.py).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

from switchyard.routing import minilm
from switchyard.routing.profiles import PROFILES
from switchyard.routing.router import Router

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tune_sets  # noqa: E402

SHARES = [1.0, 0.75, 0.5, 0.25, 0.0]


def main() -> int:
    encoder = minilm.NumpyMiniLM()
    data = []
    for name, agents, msgs, fb in tune_sets.tuning_sets():
        full = Router(agents, fallback=fb, embedder=encoder)
        static = Router(agents, fallback=fb, semantic="static")
        ids, s_full = tune_sets.layer_scores(full, msgs)
        _, s_static = tune_sets.layer_scores(static, msgs)
        fb_examples = bool(full.fallback and full.agents[full.fallback].routing.examples)
        data.append((name, ids, s_full, s_static, [m["agent"] for m in msgs], full.fallback, fb_examples))
    names = [d[0] for d in data]
    p = PROFILES["full"]
    fixed_w = (p.weights["rules"], p.weights["lexical"], p.weights["semantic"])
    grid = [((r, 1 - s - r, s), (b, bx), t) for s, r, b, bx, t in itertools.product(
        [0.5, 0.6, 0.7, 0.8, 0.9], [0.02], [0.0, 0.05, 0.08, 0.15], [0.1, 0.15, 0.2], [0.0, 0.05, 0.1, 0.15, 0.2])]
    print("| MiniLM share of the semantic score | full-profile constants: mean of 5 | per set | "
          "leave-one-set-out: mean of 5 |\n|---|---:|---|---:|")
    for share in SHARES:
        def acc(weights, bonus, threshold):
            out = []
            for name, ids, s_full, s_static, gold, fb, fb_ex in data:
                scores = s_full.copy()
                scores[:, :, 2] = share * s_full[:, :, 2] + (1 - share) * s_static[:, :, 2]
                pred = tune_sets.decide(scores, ids, fb, weights, bonus[fb_ex], threshold)
                out.append(float(np.mean([g == q for g, q in zip(gold, pred)])))
            return out
        fixed = acc(fixed_w, (p.fallback_bonus, p.fallback_bonus_with_examples), p.threshold)
        table = np.array([acc(*row) for row in grid])
        loso = [table[np.delete(table, j, axis=1).mean(axis=1).argmax(), j] for j in range(len(names))]
        per = " / ".join(f"{n} {100 * a:.1f}" for n, a in zip(names, fixed))
        print(f"| {share:.2f} | {100 * np.mean(fixed):.1f}% | {per} | {100 * np.mean(loso):.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
