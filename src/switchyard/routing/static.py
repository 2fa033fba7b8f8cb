"""The prompt hook's semantic layer, and the default install's when the numpy MiniLM's weights
(minilm.py) are missing: static token embeddings distilled once from
all-MiniLM-L6-v2 (bench/routing/distill_static.py) and shipped as package data
(data/minilm_static.npz, int8). A text's embedding is the mean of its WordPiece tokens'
vectors, L2-normalised: no model, no torch, numpy only, well under a millisecond per message.

It knows what words mean ("payment failed" sits near "card declined" and "invoice") but not
word order; the full model (minilm.py, or the `[semantic]` extra) is better on long or subtle
messages.
"""

from __future__ import annotations

import threading

from switchyard.routing.wordpiece import WordPiece

TYPE_CHECKING = False  # typing is not imported at run time: `route --hook` loads this per prompt
if TYPE_CHECKING:
    from typing import Any, Sequence

DATA_FILE = "minilm_static.npz"

_lock = threading.Lock()
_loaded: tuple[Any, WordPiece, str] | None = None


def unavailable_reason() -> str | None:
    """Why the static embeddings cannot be used, or None (numpy and the data file present)."""
    import importlib.util
    from importlib import resources

    if importlib.util.find_spec("numpy") is None:
        return "numpy is not installed"
    if not resources.files("switchyard.routing").joinpath("data", DATA_FILE).is_file():
        return f"the static embeddings file data/{DATA_FILE} is missing from the package"
    return None


def _load() -> tuple[Any, WordPiece, str]:
    global _loaded
    with _lock:
        if _loaded is None:
            import numpy as np
            from importlib import resources

            ref = resources.files("switchyard.routing").joinpath("data", DATA_FILE)
            with ref.open("rb") as fh, np.load(fh) as data:
                vectors = data["vectors"].astype(np.float32) * data["scales"][:, None]
                vocab = str(data["vocab"]).split("\n")
                source = str(data["source"])
            _loaded = (vectors, WordPiece(vocab), source)
        return _loaded


class StaticEmbedder:
    """An `semantic.Embedder` over the distilled token vectors."""

    name = "static MiniLM"
    label = "static MiniLM"  # how explanations name the layer (router.py; static_table.py too)
    # Cosines of static embeddings spread wider than the model's (unrelated texts sit near
    # 0, related ones at 0.4-0.8): the semantic index's 0..1 rescaling uses these bounds.
    low, high = 0.05, 0.75

    def __init__(self) -> None:
        self.vectors, self.tokenizer, source = _load()
        self.name = f"static {source}"

    def index_token_weights(self, owners: Sequence[str], texts: Sequence[str]) -> Any:
        """Per vocabulary token, an IDF over the agents: log(1 + (N - df + 0.5) / (df + 0.5)),
        df = how many of the N agents' texts contain it. A word every agent uses ("account"
        in a bank's agents) says little about which one a message is for; a word none uses
        keeps the highest weight (its meaning still counts through its vector). Applied on
        top of the Zipf weights baked into the vectors (bench/routing/RESULTS.md, round 6)."""
        import numpy as np

        per_agent: dict[str, set[int]] = {}
        for owner, text in zip(owners, texts):
            per_agent.setdefault(owner, set()).update(self.tokenizer.ids(text))
        df = np.zeros(len(self.vectors), dtype=np.float32)
        for ids in per_agent.values():
            df[list(ids)] += 1
        n = len(per_agent)
        return np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)

    def encode(self, texts: Sequence[str], token_weights: Any = None) -> Any:
        """Unit-length weighted means of the texts' token vectors; `token_weights` (one per
        vocabulary token, from `index_token_weights`) multiplies each token's vector."""
        import numpy as np

        out = np.zeros((len(texts), self.vectors.shape[1]), dtype=np.float32)
        for row, text in enumerate(texts):
            ids = self.tokenizer.ids(text)
            if ids:
                v = (self.vectors[ids].sum(axis=0) if token_weights is None
                     else np.einsum("i,ij->j", token_weights[ids], self.vectors[ids]))
                norm = float(np.linalg.norm(v))
                if norm > 0:
                    out[row] = v / norm
        return out
