"""Fit the router's per-profile constants (profiles.py) on the tuning sets only: the two new
tuning sets of bench/routing/sets (sparse-shop, zero-home; round 6: sparse-travel,
sparse-bank) and the project's rich agents with
dev+dev2, each set weighing the same (mean of the per-set accuracies), so that no one
author's agents decide the constants. Held-out sets are never read here.

    PYTHONPATH=src python bench/routing/tune_sets.py --profile static
    PYTHONPATH=src python bench/routing/tune_sets.py --profile full     # numpy MiniLM (minilm.py)
    PYTHONPATH=src python bench/routing/tune_sets.py --profile full --torch   # needs [semantic]
    PYTHONPATH=src python bench/routing/tune_sets.py --profile full --model DIR  # another model ([semantic])

Per-layer scores are computed once per set (Router.rank), then the blend's weights, the
fallback bonus and the threshold are swept on a grid (a grid, not a fit: ~150 tuning
messages per new set are too few for more than a handful of free constants).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from pathlib import Path

import numpy as np

from switchyard.routing import minilm, semantic
from switchyard.routing.cli import load_agents_dir
from switchyard.routing.profiles import PROFILES
from switchyard.routing.router import Router

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import sets_eval  # noqa: E402

LAYERS = ("rules", "lexical", "semantic")


def tuning_sets():
    for name in sets_eval.ROLES["tuning"]:
        agents, msgs = sets_eval.load_set(name)
        yield name, agents, msgs, sets_eval.FLAG_FALLBACK.get(name)
    agents = [la.config for la in load_agents_dir(HERE.parents[1] / "examples/agents")]
    msgs = [json.loads(l) for f in ("dev.jsonl", "dev2.jsonl")
            for l in (HERE / f).read_text().splitlines() if l.strip()]
    yield "rich-dev", agents, msgs, "general"


def layer_scores(router: Router, msgs):
    """messages x agents x layers, in the router's agent order."""
    ids = list(router.agents)
    out = np.zeros((len(msgs), len(ids), len(LAYERS)))
    for i, m in enumerate(msgs):
        for s in router.rank(m["text"]):
            for j, layer in enumerate(LAYERS):
                out[i, ids.index(s.agent_id), j] = s.layers.get(layer, 0.0)
    return ids, out


def decide(scores, ids, fallback, weights, bonus, threshold, scored=True):
    """`scored`: the fallback competes with its own texts (+ bonus); otherwise it takes only
    what no specialised agent scores `threshold` for."""
    combined = scores @ np.asarray(weights) / sum(weights)
    fb = ids.index(fallback) if fallback else None
    if fb is not None and not scored:
        combined[:, fb] = -1.0
    elif fb is not None:
        combined[:, fb] = np.minimum(1.0, combined[:, fb] + bonus)
    top = combined.argmax(axis=1)
    out = []
    for i, t in enumerate(top):
        if fb is not None and (t == fb or combined[i, t] < threshold):
            out.append(ids[fb])
        else:
            out.append(ids[t])
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", choices=["static", "full", "none"], default="static")
    ap.add_argument("--torch", action="store_true",
                    help="full profile: the model through sentence-transformers, not numpy (minilm.py)")
    ap.add_argument("--model", metavar="DIR", help="with --profile full: a sentence-transformers model "
                    "directory (default: $SWITCHYARD_ROUTER_MODEL, else the bundled MiniLM); implies --torch")
    ap.add_argument("--dump", metavar="FILE.json", help="write per-message correctness (shipped "
                    "constants, and leave-one-set-out ones) to compare two models message by message")
    args = ap.parse_args()
    if args.model:
        os.environ[semantic.MODEL_ENV] = args.model
        args.torch = True
    if args.profile == "full":
        embedder = semantic.LocalEmbedder() if args.torch else minilm.NumpyMiniLM()
    kw = {"none": dict(semantic=False), "static": dict(semantic="static"),
          "full": dict(embedder=embedder if args.profile == "full" else None)}[args.profile]
    data = []
    for name, agents, msgs, fb in tuning_sets():
        router = Router(agents, fallback=fb, **kw)
        ids, scores = layer_scores(router, msgs)
        fb_examples = bool(router.fallback and router.agents[router.fallback].routing.examples)
        data.append((name, ids, scores, [m["agent"] for m in msgs], router.fallback, fb_examples))
    sem_weights = [0.0] if args.profile == "none" else [0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    results = []
    # Two bonuses: for a fallback with "fits none" examples of its own (the rich set's
    # general agent) and for one with only a description (the new sets'): how much its score
    # can be trusted differs.
    bonuses = [0.0, 0.02, 0.05, 0.08, 0.1, 0.15, 0.2, 0.25]
    grid = [(w, r, (b, bx), t, True) for w, r, b, bx, t in itertools.product(
        sem_weights, [0.0, 0.02, 0.05], bonuses, bonuses, [0.0, 0.1, 0.15, 0.2, 0.25, 0.3])]
    grid += [(w, r, (0.0, 0.0), t, False) for w, r, t in itertools.product(
        sem_weights, [0.0, 0.02, 0.05], [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5])]
    for w_sem, w_rules, bonus, threshold, scored in grid:
        weights = (w_rules, 1.0 - w_sem - w_rules, w_sem)
        accs = []
        for name, ids, scores, gold, fb, fb_examples in data:
            pred = decide(scores, ids, fb, weights, bonus[fb_examples], threshold, scored)
            accs.append(float(np.mean([g == p for g, p in zip(gold, pred)])))
        results.append((float(np.mean(accs)), accs, weights, bonus, threshold, scored))
    names = [d[0] for d in data]
    # The shipped profile's constants (profiles.py), on the same per-layer scores.
    prof = PROFILES[args.profile]
    shipped = [float(np.mean([g == p for g, p in zip(gold, decide(
        scores, ids, fb, tuple(prof.weights.get(l, 0.0) for l in LAYERS),
        prof.fallback_bonus_with_examples if fb_examples else prof.fallback_bonus,
        prof.threshold))])) for name, ids, scores, gold, fb, fb_examples in data]
    print(f"shipped '{args.profile}' profile: mean {100 * np.mean(shipped):.1f}% ("
          + " ".join(f"{n} {100 * a:.1f}" for n, a in zip(names, shipped)) + ")")
    # Leave one set out: the constants that are best on the other sets, scored on the one left
    # out -- what a set the constants were not fitted on can expect (RESULTS.md, round 6).
    table = np.array([r[1] for r in results])
    left_out = [table[np.delete(table, j, axis=1).mean(axis=1).argmax(), j] for j in range(len(names))]
    print("leave-one-set-out: mean " + f"{100 * np.mean(left_out):.1f}% ("
          + " ".join(f"{n} {100 * a:.1f}" for n, a in zip(names, left_out)) + ")")
    for j, n in enumerate(names):  # how stable the choice is from one fold to the next
        _, _, w, b, t, sc = results[int(np.delete(table, j, axis=1).mean(axis=1).argmax())]
        print(f"  without {n}: weights r/l/s {w[0]:.2f}/{w[1]:.2f}/{w[2]:.2f} bonus {b[0]:.2f}/{b[1]:.2f} "
              f"threshold {t:.2f}{'' if sc else ' (fallback by threshold only)'}")
    if args.dump:
        def correct(d, weights, bonus, threshold, scored=True):
            name, ids, scores, gold, fb, fb_examples = d
            return [g == p for g, p in zip(gold, decide(scores, ids, fb, weights, bonus, threshold, scored))]

        dump = {"shipped": {}, "loso": {}}
        for j, d in enumerate(data):
            dump["shipped"][d[0]] = correct(d, tuple(prof.weights.get(l, 0.0) for l in LAYERS),
                                            prof.fallback_bonus_with_examples if d[5] else prof.fallback_bonus,
                                            prof.threshold)
            _, _, weights, bonus, threshold, scored = results[int(np.delete(table, j, axis=1).mean(axis=1).argmax())]
            dump["loso"][d[0]] = correct(d, weights, bonus[d[5]], threshold, scored)
        Path(args.dump).write_text(json.dumps(dump))
    results.sort(key=lambda r: r[0], reverse=True)
    print(f"profile {args.profile}; sets: {', '.join(names)}")
    for mean, accs, weights, bonus, threshold, scored in results[:15]:
        per = " ".join(f"{n} {100 * a:.1f}" for n, a in zip(names, accs))
        print(f"mean {100 * mean:.1f}%  ({per})  weights r/l/s {weights[0]:.2f}/{weights[1]:.2f}/"
              f"{weights[2]:.2f} bonus {bonus[0]:.2f} (fallback with examples {bonus[1]:.2f}) "
              f"threshold {threshold:.2f}"
              f"{'' if scored else ' (fallback by threshold only)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
