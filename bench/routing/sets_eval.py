"""Accuracy per agent set (bench/routing/sets) and style, for the router's installs and for
plain baselines computed here, on the same agents and messages.

    PYTHONPATH=src python bench/routing/sets_eval.py --role tuning      # while tuning
    PYTHONPATH=src python bench/routing/sets_eval.py --role heldout     # once, at the end
    PYTHONPATH=src python bench/routing/sets_eval.py --role heldout7    # round 7's, by another author
    PYTHONPATH=src python bench/routing/sets_eval.py --set sparse-shop --errors
    PYTHONPATH=src python bench/routing/sets_eval.py --role tuning --model DIR   # another
        [semantic] model (sets SWITCHYARD_ROUTER_MODEL, routing/semantic.py)

Rows: the router as installed by default (rules + lexical + all-MiniLM-L6-v2 in numpy, round
7), with `[semantic]` (the same model through sentence-transformers), with the static
embeddings (round 6's default, now the fallback when the model's weights file is missing),
lexical only; the fallback is the set's
default agent found by the router itself (an agent named default/general) or, for sets whose
default agent has another name, given as a flag (README.md of the sets). Baselines (no
fallback logic, arg-max over agents, all of an agent's texts from agent_texts.py):
TF-IDF cosine over each agent's concatenated texts, MiniLM (full / static) nearest text,
MiniLM (full) similarity to the describing texts only (no examples).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections import Counter
from pathlib import Path

from switchyard.routing import minilm, semantic, static
from switchyard.routing.agent_texts import describing_texts, routing_texts
from switchyard.routing.cli import load_agents_dir
from switchyard.routing.lexical import tokenize
from switchyard.routing.router import Router

HERE = Path(__file__).resolve().parent
SETS = HERE / "sets"
ROLES = {"tuning": ["sparse-shop", "zero-home", "sparse-travel", "sparse-bank"],
         "heldout": ["sparse-campus", "sparse-clinic", "zero-dev", "zero-kitchen", "sparse-city"],
         # Written by a separate author who saw neither the router nor its results (sets/README.md).
         "heldout7": ["sparse-insurance", "sparse-gym", "zero-telecom", "zero-helpdesk"]}
# Default agents whose name is not default/general are given as a flag (sets/README.md).
FLAG_FALLBACK = {"zero-home": "home-assistant"}


def load_set(name: str):
    agents = [la.config for la in load_agents_dir(SETS / name / "agents")]
    msgs = [json.loads(l) for l in (SETS / name / "messages.jsonl").read_text().splitlines() if l.strip()]
    return agents, msgs


def tfidf_baseline(agents, msgs) -> list[str]:
    docs = {a.agentId: tokenize(" ".join([a.agentId.replace("-", " "), a.name, *routing_texts(a)]))
            for a in agents}
    df = Counter(t for toks in docs.values() for t in set(toks))
    n = len(docs)

    def vec(toks):
        tf = Counter(toks)
        v = {t: (1 + math.log(c)) * math.log((1 + n) / (1 + df.get(t, 0)) + 1) for t, c in tf.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {t: x / norm for t, x in v.items()}

    dv = {a: vec(t) for a, t in docs.items()}
    out = []
    for m in msgs:
        q = vec(tokenize(m["text"]))
        scores = {a: sum(w * d.get(t, 0.0) for t, w in q.items()) for a, d in dv.items()}
        out.append(max(scores, key=scores.get))  # ties: the first agent (as a naive router would)
    return out


def nearest_baseline(agents, msgs, embedder, texts_of) -> list[str]:
    import numpy as np

    owners, flat = [], []
    for a in agents:
        for t in texts_of(a):
            owners.append(a.agentId)
            flat.append(t)
    m = np.asarray(embedder.encode(flat))
    q = np.asarray(embedder.encode([x["text"] for x in msgs]))
    best = (q @ m.T).argmax(axis=1)
    return [owners[i] for i in best]


def score(msgs, predicted) -> dict[str, float]:
    out = {"all": sum(m["agent"] == p for m, p in zip(msgs, predicted)) / len(msgs)}
    for kind in ("normal", "indirect", "none"):
        rows = [(m, p) for m, p in zip(msgs, predicted) if m.get("kind") == kind]
        if rows:
            out[kind] = sum(m["agent"] == p for m, p in rows) / len(rows)
    return out


def run_set(name: str, full, errors: bool) -> list[tuple[str, dict[str, float]]]:
    agents, msgs = load_set(name)
    fb = FLAG_FALLBACK.get(name)
    rows = []
    configs = [("default install (numpy MiniLM)", dict(embedder=minilm.NumpyMiniLM())),
               ("static embeddings (round 6 default; fallback)", dict(semantic="static")),
               ("lexical only", dict(semantic=False))]
    if full is not None:
        configs.insert(1, (f"[semantic] ({full.name}, sentence-transformers)", dict(embedder=full)))
    for label, kw in configs:
        router = Router(agents, fallback=fb, **kw)
        decisions = [router.route_sync(m["text"]) for m in msgs]
        predicted = [d.agent_id for d in decisions]
        rows.append((label, score(msgs, predicted)))
        if errors:
            for m, d in zip(msgs, decisions):
                if m["agent"] != d.agent_id:
                    print(f"  [{label}] {m['agent']} -> {d.agent_id}: {m['text']!r}")
    rows.append(("baseline TF-IDF", score(msgs, tfidf_baseline(agents, msgs))))
    rows.append(("baseline static nearest text",
                 score(msgs, nearest_baseline(agents, msgs, static.StaticEmbedder(), routing_texts))))
    if full is not None:
        rows.append((f"baseline {full.name} nearest text",
                     score(msgs, nearest_baseline(agents, msgs, full, routing_texts))))
        rows.append((f"baseline {full.name} description only",
                     score(msgs, nearest_baseline(agents, msgs, full,
                                                  lambda a: describing_texts(a) or [a.name]))))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", choices=sorted(ROLES))
    ap.add_argument("--set", action="append")
    ap.add_argument("--no-full", action="store_true", help="skip the [semantic] model")
    ap.add_argument("--errors", action="store_true")
    ap.add_argument("--model", metavar="DIR", help="the [semantic] model directory "
                    "(default: $SWITCHYARD_ROUTER_MODEL, else the bundled MiniLM)")
    args = ap.parse_args()
    if args.model:
        os.environ[semantic.MODEL_ENV] = args.model
    names = args.set or ROLES[args.role or "tuning"]
    full = None if args.no_full or not semantic.available() else semantic.LocalEmbedder()
    for name in names:
        _, msgs = load_set(name)
        print(f"\n### {name} ({len(msgs)} messages)\n")
        print("| configuration | top-1 | normal | indirect | none |\n|---|---:|---:|---:|---:|")
        for label, s in run_set(name, full, args.errors):
            cells = [f"{100 * s[k]:.1f}%" if k in s else "-" for k in ("all", "normal", "indirect", "none")]
            print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
