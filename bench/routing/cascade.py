"""Would a cascade keep the full model's accuracy at a fraction of its cost? The static
embeddings decide first; only when their first two agents score closer than a margin does the
full model (numpy MiniLM) decide. For each margin: the mean of the tuning sets' accuracies and
the share of messages that reach the full model; the margin is chosen leave-one-set-out (on
four tuning sets, scored on the fifth). Tuning sets only.

    PYTHONPATH=src python bench/routing/cascade.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from switchyard.routing import minilm
from switchyard.routing.router import Router

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from tune_sets import tuning_sets  # noqa: E402

MARGINS = [0.0, 0.02, 0.04, 0.06, 0.08, 0.10, 0.12, 0.15, 0.2, 0.25, 0.3, 1.01]


def main() -> int:
    full_embedder = minilm.NumpyMiniLM()
    data = []
    for name, agents, msgs, fb in tuning_sets():
        static = Router(agents, fallback=fb, semantic="static")
        full = Router(agents, fallback=fb, embedder=full_embedder)
        rows = []
        for m in msgs:
            s = static.route_sync(m["text"])
            f = full.route_sync(m["text"])
            margin = s.ranked[0].score - s.ranked[1].score if len(s.ranked) > 1 else 1.0
            rows.append((s.agent_id == m["agent"], f.agent_id == m["agent"], margin))
        data.append((name, rows))
        print(f"{name}: {len(rows)} messages; static {np.mean([r[0] for r in rows]):.1%}, "
              f"full {np.mean([r[1] for r in rows]):.1%}")

    def score(rows, margin):
        picked = [f if mg < margin else s for s, f, mg in rows]
        return float(np.mean(picked)), float(np.mean([mg < margin for _, _, mg in rows]))

    print(f"\n{'margin':>7} {'mean acc':>9} {'to full':>8}  per set")
    for margin in MARGINS:
        per = [score(rows, margin) for _, rows in data]
        print(f"{margin:>7.2f} {np.mean([a for a, _ in per]):>9.1%} {np.mean([e for _, e in per]):>8.1%}  "
              + "  ".join(f"{name} {a:.1%}/{e:.0%}" for (name, _), (a, e) in zip(data, per)))

    print("\nleave-one-set-out (margin chosen on the other sets: best mean accuracy, then the smallest margin):")
    loso = []
    for i, (name, rows) in enumerate(data):
        rest = [r for j, (_, r) in enumerate(data) if j != i]
        best = max(MARGINS, key=lambda m: (round(np.mean([score(r, m)[0] for r in rest]), 4), -m))
        acc, esc = score(rows, best)
        loso.append((acc, esc))
        print(f"  {name}: margin {best:.2f} -> {acc:.1%} ({esc:.0%} to the full model)")
    print(f"  mean: {np.mean([a for a, _ in loso]):.1%}, {np.mean([e for _, e in loso]):.0%} to the full model")
    return 0


if __name__ == "__main__":
    sys.exit(main())
