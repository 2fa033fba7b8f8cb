"""Fit the router's layer weights and fallback ("none") bonus on the TUNING data only
(bench/routing/dev.jsonl + dev2.jsonl), with 5-fold cross-validation. Never reads test.jsonl.

    python bench/routing/tune.py                 # with the semantic layer
    python bench/routing/tune.py --no-semantic   # rules + lexical

Per message and agent it takes the layer scores the Router computes (rules, lexical,
semantic), fits a conditional logit -- softmax over agents of w . scores + b * [agent is the
fallback] -- and reports the cross-validated top-1 accuracy, the fitted weights normalised to a
weighted average (what router.py uses) and the bonus b / sum(w). Then it sweeps the bonus with
the weights in router.py, since the logit maximises likelihood, not accuracy. Needs scipy
(installed with sentence-transformers). Embeddings are cached in $TMPDIR/switchyard-tune-emb.pkl.
"""

from __future__ import annotations

import argparse
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from switchyard.routing import semantic
from switchyard.routing.cli import load_agents_dir
from switchyard.routing.eval import load_cases
from switchyard.routing.router import (FALLBACK_BONUS_WITH_SEMANTIC, FALLBACK_BONUS_WITHOUT_SEMANTIC,
                                       WEIGHTS_WITH_SEMANTIC, WEIGHTS_WITHOUT_SEMANTIC, Router)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FALLBACK = "general"
CACHE = Path(os.environ.get("TMPDIR", tempfile.gettempdir())) / "switchyard-tune-emb.pkl"


class CachedEmbedder:
    name = "all-MiniLM-L6-v2 (cached)"

    def __init__(self) -> None:
        self.cache = pickle.loads(CACHE.read_bytes()) if CACHE.exists() else {}
        self.inner = None

    def encode(self, texts):
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            self.inner = self.inner or semantic.LocalEmbedder()
            for t, v in zip(missing, self.inner.encode(missing)):
                self.cache[t] = np.asarray(v, dtype=np.float32)
            CACHE.write_bytes(pickle.dumps(self.cache))
        return np.stack([self.cache[t] for t in texts])


def fit(X: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> np.ndarray:
    n, _, f = X.shape

    def objective(w):
        z = X @ w
        m = z.max(1, keepdims=True)
        e = np.exp(z - m)
        s = e.sum(1, keepdims=True)
        p = e / s
        onehot = np.zeros_like(p)
        onehot[np.arange(n), y] = 1
        ll = (z[np.arange(n), y] - m[:, 0] - np.log(s[:, 0])).sum()
        grad = ((p - onehot)[:, :, None] * X).sum((0, 1)) + 2 * l2 * n * w
        return -ll + l2 * n * (w @ w), grad

    return minimize(objective, np.zeros(f), jac=True, method="L-BFGS-B").x


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-semantic", action="store_true")
    args = ap.parse_args()
    agents = [la.config for la in load_agents_dir(ROOT / "examples" / "agents")]
    ids = [a.agentId for a in agents]
    cases = [c for n in ("dev", "dev2") for c in load_cases(HERE / f"{n}.jsonl", known_agents=ids)]
    layers = ["rules", "lexical"] + ([] if args.no_semantic else ["semantic"])
    embedder = None if args.no_semantic else CachedEmbedder()
    if embedder:
        embedder.encode([c.text for c in cases])  # one batch instead of one call per message
    feats = np.zeros((len(cases), len(ids), len(layers) + 1))
    for j, layer in enumerate(layers):
        router = Router(agents, fallback=FALLBACK, layers=[layer], embedder=embedder,
                        semantic=layer == "semantic", fallback_bonus=0.0)
        for i, c in enumerate(cases):
            for s in router.rank(c.text):
                feats[i, ids.index(s.agent_id), j] = s.layers[layer]
    feats[:, ids.index(FALLBACK), -1] = 1.0
    gold = np.array([ids.index(c.agent) for c in cases])

    accs = []
    for seed in range(3):
        idx = np.random.default_rng(seed).permutation(len(cases))
        pred = np.zeros(len(cases), dtype=int)
        for k in range(5):
            te = idx[k::5]
            w = fit(feats[np.setdiff1d(idx, te)], gold[np.setdiff1d(idx, te)])
            pred[te] = (feats[te] @ w).argmax(1)
        accs.append((pred == gold).mean())
    w = fit(feats, gold)
    total = w[:-1].sum()
    print(f"{len(cases)} tuning messages, layers {layers}")
    print(f"conditional logit, 5-fold CV top-1 (3 shuffles): {np.mean(accs):.1%} "
          f"({', '.join(f'{a:.1%}' for a in accs)})")
    print("fitted weights (normalised):", {l: round(float(x / total), 3) for l, x in zip(layers, w)},
          f"fallback bonus {w[-1] / total:.3f}")

    weights = WEIGHTS_WITHOUT_SEMANTIC if args.no_semantic else WEIGHTS_WITH_SEMANTIC
    current = FALLBACK_BONUS_WITHOUT_SEMANTIC if args.no_semantic else FALLBACK_BONUS_WITH_SEMANTIC
    wv = np.array([weights.get(l, 0.0) for l in layers]) / sum(weights.get(l, 0.0) for l in layers)
    combined = feats[:, :, :-1] @ wv
    kinds = np.array([c.kind or "dev" for c in cases])
    print(f"\nbonus sweep with router.py weights {weights} (router.py uses {current}):")
    for bonus in np.arange(-0.05, 0.31, 0.05):
        scores = combined.copy()
        scores[:, ids.index(FALLBACK)] += bonus
        pred = scores.argmax(1)
        by = " ".join(f"{k} {np.mean(pred[kinds == k] == gold[kinds == k]):.1%}"
                      for k in ("dev", "normal", "near-miss", "none"))
        print(f"  bonus {bonus:+.2f}: top-1 {np.mean(pred == gold):.1%}  ({by})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
