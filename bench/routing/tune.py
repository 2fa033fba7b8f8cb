"""Fit the router's layer weights and fallback ("none") bonus on the TUNING data only
(bench/routing/dev.jsonl + dev2.jsonl), with 5-fold cross-validation. Never reads test.jsonl.

    python bench/routing/tune.py                 # with the semantic layer
    python bench/routing/tune.py --no-semantic   # rules + lexical

Per message and agent it takes the components of the Router's layer scores (rules; BM25 and
naive Bayes for lexical; kNN and the linear head for semantic), fits a conditional logit --
softmax over agents of w . scores + b * [agent is the fallback] -- and reports the
cross-validated top-1 accuracy, the fitted weights normalised to a weighted average, what they
mean as router.py's layer weights and within-layer classifier shares, and the bonus b / sum(w). Then it sweeps the bonus with
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
from switchyard.routing.profiles import PROFILES
from switchyard.routing.router import NB_SHARE, Router

# Round 5 moved the constants into profiles.py (per semantic layer); this round-3 tool fits
# the full-model and no-semantic profiles on dev+dev2 only (tune_sets.py fits all three).
HEAD_SHARE = PROFILES["full"].head_share
WEIGHTS_WITH_SEMANTIC, WEIGHTS_WITHOUT_SEMANTIC = PROFILES["full"].weights, PROFILES["none"].weights
FALLBACK_BONUS_WITH_SEMANTIC = PROFILES["full"].fallback_bonus
FALLBACK_BONUS_WITHOUT_SEMANTIC = PROFILES["none"].fallback_bonus
from switchyard.routing.rules import rule_score

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
    # Components: each layer's retrieval score and its classifier's probability, fitted as
    # separate features; router.py's layer weight is their sum and the classifier's share
    # within the layer their ratio.
    comps = ["rules", "bm25", "nb"] + ([] if args.no_semantic else ["knn", "head"])
    layers = ["rules", "lexical"] + ([] if args.no_semantic else ["semantic"])
    embedder = None if args.no_semantic else CachedEmbedder()
    if embedder:
        embedder.encode([c.text for c in cases])  # one batch instead of one call per message
    router = Router(agents, fallback=FALLBACK, embedder=embedder, semantic=not args.no_semantic,
                    fallback_bonus=0.0)
    feats = np.zeros((len(cases), len(ids), len(comps) + 1))
    for i, c in enumerate(cases):
        q = router._semantic.embed(c.text) if router._semantic is not None else None
        parts = {"rules": {a: rule_score(r.match(c.text)) for a, r in router._rules.items()},
                 "bm25": router._lexical.score(c.text), "nb": router._nb.predict_proba(c.text)}
        if q is not None:
            parts["knn"] = router._semantic.knn_score(c.text, q)
            parts["head"] = router._semantic.head_proba(c.text, q)
        for j, comp in enumerate(comps):
            for a, v in parts[comp].items():
                feats[i, ids.index(a), j] = v
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
    cw = {c: float(x / total) for c, x in zip(comps, w)}
    print(f"{len(cases)} tuning messages, components {comps}")
    print(f"conditional logit, 5-fold CV top-1 (3 shuffles): {np.mean(accs):.1%} "
          f"({', '.join(f'{a:.1%}' for a in accs)})")
    print("fitted component weights (normalised):", {c: round(x, 3) for c, x in cw.items()},
          f"fallback bonus {w[-1] / total:.3f}")
    print("as router.py layer weights:", {"rules": round(cw["rules"], 3),
          "lexical": round(cw["bm25"] + cw["nb"], 3),
          **({} if args.no_semantic else {"semantic": round(cw["knn"] + cw["head"], 3)})},
          f"NB share {cw['nb'] / (cw['bm25'] + cw['nb']):.2f}",
          "" if args.no_semantic else f"head share {cw['head'] / (cw['knn'] + cw['head']):.2f}")

    weights = WEIGHTS_WITHOUT_SEMANTIC if args.no_semantic else WEIGHTS_WITH_SEMANTIC
    current = FALLBACK_BONUS_WITHOUT_SEMANTIC if args.no_semantic else FALLBACK_BONUS_WITH_SEMANTIC
    wv = np.array([weights.get(l, 0.0) for l in layers]) / sum(weights.get(l, 0.0) for l in layers)
    # The router's layer scores, rebuilt from the components with router.py's shares.
    lf = [feats[:, :, 0], (1 - NB_SHARE) * feats[:, :, 1] + NB_SHARE * feats[:, :, 2]]
    if not args.no_semantic:
        lf.append((1 - HEAD_SHARE) * feats[:, :, 3] + HEAD_SHARE * feats[:, :, 4])
    combined = np.stack(lf, axis=2) @ wv
    kinds = np.array([c.kind or "dev" for c in cases])
    print(f"\nbonus sweep with router.py weights {weights} (router.py uses {current}):")
    for bonus in np.arange(0.0, 0.36, 0.025):
        scores = combined.copy()
        scores[:, ids.index(FALLBACK)] += bonus
        pred = scores.argmax(1)
        by = " ".join(f"{k} {np.mean(pred[kinds == k] == gold[kinds == k]):.1%}"
                      for k in ("dev", "normal", "near-miss", "none"))
        print(f"  bonus {bonus:+.2f}: top-1 {np.mean(pred == gold):.1%}  ({by})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
