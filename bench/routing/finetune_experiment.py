"""Experiment (not a product change): does SetFit-style contrastive fine-tuning of
all-MiniLM-L6-v2 on the agents' own routing texts improve the semantic layer and the combined
router on the tuning data (dev + dev2)?

Training data: only the texts in examples/agents/*.yml that the semantic layer already embeds
(agentCard description, routing.description, routing.examples), labelled by agent; the
fallback's "fits none" examples are one more class. The dev messages are never trained on:
they are the evaluation here. The held-out test*.jsonl files are never read.

No `datasets`/`accelerate` in the venv, so the loop is plain torch around sentence-transformers'
loss modules. Weights are saved under /tmp/switchyard-finetune/<key>, where the key is a hash of
the base model, the setting and the agents' texts (the caching scheme an integration would use);
a second run with the same key reuses them (pass --retrain to force training).

    HF_HUB_OFFLINE=1 python bench/routing/finetune_experiment.py                 # all settings
    HF_HUB_OFFLINE=1 python bench/routing/finetune_experiment.py --settings mnrl
    HF_HUB_OFFLINE=1 python bench/routing/finetune_experiment.py --holdout       # + a check on
        held-out agent examples (fine-tune on 80% of each agent's examples, score the other
        20%): a way to judge a setting without any dev message
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from switchyard.routing import semantic  # noqa: E402
from switchyard.routing.cli import load_agents_dir  # noqa: E402
from switchyard.routing.eval import evaluate, load_cases  # noqa: E402
from switchyard.routing.router import Router  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FALLBACK = "general"
CACHE = Path("/tmp/switchyard-finetune")
SEED = 1234
TRAIN_THREADS = 2  # both cores while training; routing itself runs with 1 (as LocalEmbedder)

CONFIGS = [("semantic only", ["semantic"]), ("combined", ["rules", "lexical", "semantic"])]
KINDS = ["normal", "near-miss", "none"]


@dataclass(frozen=True)
class Setting:
    name: str
    loss: str          # mnrl | cosine | triplet
    epochs: int
    per_text: int      # mnrl: positives per anchor; cosine: positive (and as many negative) pairs per text; triplet: texts per agent per batch
    lr: float = 2e-5
    batch: int = 16    # cosine: pairs per batch (mnrl: one pair per agent; triplet: agents x per_text)

    def describe(self) -> str:
        if self.loss == "mnrl":
            return (f"MultipleNegativesRankingLoss, {self.per_text} positives per example, one pair per "
                    f"agent per batch (no false in-batch negatives), {self.epochs} epochs, lr {self.lr}")
        if self.loss == "cosine":
            return (f"CosineSimilarityLoss (SetFit default), {self.per_text} pos + {self.per_text} neg "
                    f"pairs per example, batch {self.batch}, {self.epochs} epoch(s), lr {self.lr}")
        return (f"BatchAllTripletLoss, P x K batches ({self.per_text} texts per agent), "
                f"{self.epochs} epochs, lr {self.lr}")


SETTINGS = {
    "mnrl": Setting("mnrl", "mnrl", epochs=2, per_text=2),
    "cosine": Setting("cosine", "cosine", epochs=1, per_text=3),
    "triplet": Setting("triplet", "triplet", epochs=4, per_text=4),
}


# --- data ------------------------------------------------------------------------------------

def agent_texts(agents) -> dict[str, list[str]]:
    """Exactly the texts the router's semantic layer embeds (router.py)."""
    return {a.agentId: [t for t in [a.description, a.routing.description, *a.routing.examples] if t]
            for a in agents}


def split_texts(texts: dict[str, list[str]], share: float, seed: int):
    """Per agent: descriptions always train; `share` of the examples is held out."""
    rng = random.Random(seed)
    train, held = {}, {}
    for agent, items in texts.items():
        items = list(items)
        ex = items[2:] if len(items) > 2 else items
        head = items[: len(items) - len(ex)]
        ex = ex[:]
        rng.shuffle(ex)
        n = int(round(len(ex) * share))
        held[agent] = ex[:n]
        train[agent] = head + ex[n:]
    return train, held


def mnrl_batches(texts, s: Setting, rng: random.Random):
    """(anchor, positive) pairs; each batch holds at most one pair per agent, so every other
    positive in the batch is a true negative."""
    pairs_by_agent = {}
    for agent, items in texts.items():
        pairs = []
        for i, a in enumerate(items):
            others = [t for j, t in enumerate(items) if j != i]
            for p in rng.sample(others, min(s.per_text, len(others))):
                pairs.append((a, p))
        rng.shuffle(pairs)
        pairs_by_agent[agent] = pairs
    batches = []
    while any(pairs_by_agent.values()):
        batch = [pairs_by_agent[a].pop() for a in pairs_by_agent if pairs_by_agent[a]]
        if len(batch) >= 2:
            batches.append(batch)
    rng.shuffle(batches)
    return batches


def cosine_batches(texts, s: Setting, rng: random.Random):
    """SetFit-style pairs: label 1 for the same agent, 0 for different agents, balanced."""
    agents = list(texts)
    pairs = []
    for agent, items in texts.items():
        for i, a in enumerate(items):
            others = [t for j, t in enumerate(items) if j != i]
            for p in rng.sample(others, min(s.per_text, len(others))):
                pairs.append((a, p, 1.0))
            for _ in range(s.per_text):
                other = rng.choice([x for x in agents if x != agent])
                pairs.append((a, rng.choice(texts[other]), 0.0))
    rng.shuffle(pairs)
    return [pairs[i:i + s.batch] for i in range(0, len(pairs), s.batch)]


def triplet_batches(texts, s: Setting, rng: random.Random):
    """P x K batches: every agent with `per_text` texts (labels for batch-all triplets)."""
    agents = list(texts)
    queues = {a: rng.sample(texts[a], len(texts[a])) for a in agents}
    n_batches = max(len(v) for v in texts.values()) // s.per_text
    batches = []
    for _ in range(n_batches):
        batch = []
        for li, a in enumerate(agents):
            for _ in range(s.per_text):
                if not queues[a]:
                    queues[a] = rng.sample(texts[a], len(texts[a]))
                batch.append((queues[a].pop(), li))
        rng.shuffle(batch)
        batches.append(batch)
    return batches


# --- fine-tuning -----------------------------------------------------------------------------

def cache_key(texts: dict[str, list[str]], s: Setting) -> str:
    h = hashlib.sha256()
    h.update(f"all-MiniLM-L6-v2|{s}|seed={SEED}".encode())
    for agent in sorted(texts):
        h.update(agent.encode() + b"\0" + "\n".join(texts[agent]).encode() + b"\1")
    return h.hexdigest()[:16]


def seed_all(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fine_tune(texts: dict[str, list[str]], s: Setting, *, retrain: bool, tag: str = "") -> tuple[Path, dict]:
    """Fine-tune a fresh copy of the bundled model; returns (weights dir, metadata)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import losses
    from transformers import get_linear_schedule_with_warmup

    out = CACHE / f"{s.name}{tag}-{cache_key(texts, s)}"
    meta_file = out / "finetune_meta.json"
    if meta_file.is_file() and not retrain:
        meta = json.loads(meta_file.read_text())
        meta["cached"] = True
        return out, meta

    seed_all(SEED)
    torch.set_num_threads(TRAIN_THREADS)
    t0 = time.perf_counter()
    model = SentenceTransformer(str(semantic.model_path()), device="cpu")
    rng = random.Random(SEED)
    if s.loss == "mnrl":
        loss_fn = losses.MultipleNegativesRankingLoss(model)
        make = lambda: mnrl_batches(texts, s, rng)
    elif s.loss == "cosine":
        loss_fn = losses.CosineSimilarityLoss(model)
        make = lambda: cosine_batches(texts, s, rng)
    else:
        loss_fn = losses.BatchAllTripletLoss(model)
        make = lambda: triplet_batches(texts, s, rng)
    epochs = [make() for _ in range(s.epochs)]
    steps = sum(len(e) for e in epochs)
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, int(0.1 * steps), steps)
    model.train()
    losses_per_epoch = []
    n_pairs = 0
    for batches in epochs:
        total = 0.0
        for batch in batches:
            if s.loss == "mnrl":
                feats = [model.preprocess([a for a, _ in batch]), model.preprocess([p for _, p in batch])]
                labels = None
            elif s.loss == "cosine":
                feats = [model.preprocess([a for a, _, _ in batch]), model.preprocess([b for _, b, _ in batch])]
                labels = torch.tensor([y for _, _, y in batch], dtype=torch.float32)
            else:
                feats = [model.preprocess([t for t, _ in batch])]
                labels = torch.tensor([y for _, y in batch], dtype=torch.long)
            n_pairs += len(batch)
            loss = loss_fn(feats, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            total += loss.item()
        losses_per_epoch.append(round(total / max(1, len(batches)), 4))
    wall = time.perf_counter() - t0
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    meta = {"setting": s.describe(), "steps": steps, "items_seen": n_pairs,
            "train_texts": sum(len(v) for v in texts.values()), "loss_per_epoch": losses_per_epoch,
            "wall_s": round(wall, 1), "threads": TRAIN_THREADS, "seed": SEED, "cached": False}
    meta_file.write_text(json.dumps(meta, indent=1))
    return out, meta


class TunedEmbedder:
    """The semantic.Embedder interface over a fine-tuned copy (same call as LocalEmbedder)."""

    def __init__(self, path: Path, name: str) -> None:
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.model = SentenceTransformer(str(path), device="cpu")
        self.model.eval()

    def encode(self, texts):
        return self.model.encode(list(texts), batch_size=64, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)


# --- evaluation ------------------------------------------------------------------------------

def run_configs(agents, cases, embedder) -> dict[str, dict]:
    import torch

    torch.set_num_threads(1)
    out = {}
    for label, layers in CONFIGS:
        router = Router(agents, fallback=FALLBACK, semantic=True, layers=layers, embedder=embedder)
        res = evaluate(router, cases)
        by_kind = res.accuracy_by("kind")
        out[label] = {"top1": res.accuracy, "correct": res.correct, "total": res.total,
                      "kinds": {k: by_kind.get(k, (0, 0)) for k in KINDS + ["-"]},
                      "predicted": res.predicted, "p50": res.percentile(50), "p95": res.percentile(95)}
    out.update(component_argmax(agents, cases, embedder))
    return out


def component_argmax(agents, cases, embedder) -> dict[str, dict]:
    """Diagnostic, free of the router's fitted constants (rescale, head share, weights, bonus):
    top-1 of the raw kNN score alone and of the linear head alone (fallback included as a class)."""
    from switchyard.routing.profiles import PROFILES

    HEAD_SHARE = PROFILES["full"].head_share

    index = semantic.SemanticIndex(agent_texts(agents), embedder, head_share=HEAD_SHARE)
    preds = {"kNN argmax": [], "head argmax": []}
    for c in cases:
        q = index.embed(c.text)
        raw, head = index.raw(c.text, q), index.head_proba(c.text, q)
        preds["kNN argmax"].append(max(raw, key=raw.get))
        preds["head argmax"].append(max(head, key=head.get))
    out = {}
    for label, pred in preds.items():
        kinds = {}
        for c, p in zip(cases, pred):
            k = kinds.setdefault(c.kind or "-", [0, 0])
            k[0] += p == c.agent
            k[1] += 1
        good = sum(p == c.agent for c, p in zip(cases, pred))
        out[label] = {"top1": good / len(cases), "correct": good, "total": len(cases),
                      "kinds": {k: tuple(kinds.get(k, (0, 0))) for k in KINDS + ["-"]},
                      "predicted": pred, "p50": float("nan"), "p95": float("nan")}
    return out


def encode_latency(embedder, texts: list[str]) -> tuple[float, float]:
    import torch

    torch.set_num_threads(1)
    embedder.encode(["warm-up"])
    times = []
    for t in texts:
        t0 = time.perf_counter()
        embedder.encode([t])
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def holdout_accuracy(train: dict[str, list[str]], held: dict[str, list[str]], embedder) -> float:
    """Semantic layer (kNN + head, as in the router) built from `train`, top-1 on `held`."""
    import torch

    from switchyard.routing.profiles import PROFILES

    HEAD_SHARE = PROFILES["full"].head_share

    torch.set_num_threads(1)
    index = semantic.SemanticIndex(train, embedder, head_share=HEAD_SHARE)
    good = total = 0
    for agent, items in held.items():
        for t in items:
            sc = index.score(t)
            good += max(sc, key=sc.get) == agent
            total += 1
    return good / total if total else 0.0


def pct(c: int, t: int) -> str:
    return f"{c / t:6.1%}" if t else "     -"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--settings", default="mnrl,cosine,triplet", help=f"comma-separated, from {list(SETTINGS)}")
    ap.add_argument("--retrain", action="store_true", help="ignore cached weights under /tmp")
    ap.add_argument("--holdout", action="store_true",
                    help="also fine-tune on 80%% of each agent's examples and score the other 20%% (no dev data)")
    ap.add_argument("--json", type=Path, help="write all numbers here")
    args = ap.parse_args()
    chosen = [SETTINGS[n.strip()] for n in args.settings.split(",") if n.strip()]

    if semantic.unavailable_reason():
        print(semantic.unavailable_reason())
        return 1
    agents = [la.config for la in load_agents_dir(ROOT / "examples" / "agents")]
    known = [a.agentId for a in agents]
    cases = [c for n in ["dev", "dev2"] for c in load_cases(HERE / f"{n}.jsonl", known_agents=known)]
    texts = agent_texts(agents)
    print(f"evaluation: dev+dev2, {len(cases)} messages; training: {sum(map(len, texts.values()))} agent "
          f"texts ({len(texts)} agents incl. fallback {FALLBACK}); seed {SEED}")

    results: dict[str, dict] = {}
    metas: dict[str, dict] = {}
    latencies: dict[str, tuple[float, float]] = {}
    holdout: dict[str, float] = {}
    sample = [c.text for c in cases[::4]]

    stock = semantic.LocalEmbedder()
    results["stock"] = run_configs(agents, cases, stock)
    latencies["stock"] = encode_latency(stock, sample)
    if args.holdout:
        tr, held = split_texts(texts, 0.2, SEED)
        holdout["stock"] = holdout_accuracy(tr, held, stock)

    for s in chosen:
        print(f"\n[{s.name}] {s.describe()}", flush=True)
        path, meta = fine_tune(texts, s, retrain=args.retrain)
        metas[s.name] = meta
        print(f"  fine-tuned in {meta['wall_s']} s{' (cached weights)' if meta['cached'] else ''}, "
              f"{meta['steps']} steps, loss per epoch {meta['loss_per_epoch']} -> {path}", flush=True)
        emb = TunedEmbedder(path, f"all-MiniLM-L6-v2+{s.name}")
        results[s.name] = run_configs(agents, cases, emb)
        latencies[s.name] = encode_latency(emb, sample)
        if args.holdout:
            tr, held = split_texts(texts, 0.2, SEED)
            hpath, hmeta = fine_tune(tr, s, retrain=args.retrain, tag="-holdout")
            holdout[s.name] = holdout_accuracy(tr, held, TunedEmbedder(hpath, s.name))
            print(f"  holdout fine-tune {hmeta['wall_s']} s; held-out example accuracy "
                  f"{holdout[s.name]:.1%} (stock {holdout['stock']:.1%})", flush=True)

    print(f"\n{'model':<10} {'configuration':<14} {'top-1':>7} {'dev':>7} {'dev2':>7} {'normal':>7} "
          f"{'near-miss':>9} {'none':>7} {'fixed':>6} {'broken':>6} {'p50 ms':>7}")
    for model, per in results.items():
        for label, r in per.items():
            k = r["kinds"]
            dev = k["-"]
            dev2 = tuple(map(sum, zip(*[k[x] for x in KINDS])))
            base = results["stock"][label]["predicted"]
            fixed = sum(p == c.agent != b for c, p, b in zip(cases, r["predicted"], base))
            broken = sum(b == c.agent != p for c, p, b in zip(cases, r["predicted"], base))
            fx = "" if model == "stock" else str(fixed)
            br = "" if model == "stock" else str(broken)
            print(f"{model:<10} {label:<14} {r['top1']:>7.1%} {pct(*dev):>7} {pct(*dev2):>7} "
                  f"{pct(*k['normal']):>7} {pct(*k['near-miss']):>9} {pct(*k['none']):>7} "
                  f"{fx:>6} {br:>6} {r['p50']:>7.2f}")
    print("\n(dev = dev.jsonl, unlabelled kinds; normal / near-miss / none are dev2's kinds; "
          "fixed / broken: messages the setting gets right / wrong that stock got wrong / right)")
    print("\nembedding latency, one message, 1 thread (every 4th dev message):")
    for model, (p50, p95) in latencies.items():
        print(f"  {model:<8} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms")
    if holdout:
        print("\nsemantic layer on 20% held-out agent examples (fine-tuned on the other 80%; no dev data):")
        for model, acc in holdout.items():
            print(f"  {model:<8} {acc:.1%}")
    if args.json:
        for per in results.values():
            for r in per.values():
                r.pop("predicted")
        args.json.write_text(json.dumps({"results": results, "finetune": metas,
                                         "latency_ms": latencies, "holdout": holdout}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
