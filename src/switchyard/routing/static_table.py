"""The static embeddings (static.py) without numpy, for `route --hook`'s warm path.

Importing numpy costs 40-130 ms on a busy 2-core machine, and the packaged table
(data/minilm_static.npz) is deflated, so a process that wants the vectors of a prompt's twenty
tokens must inflate all 30,522 rows first (another ~70 ms). Once per machine (per data file),
`extract_table` writes the table uncompressed under the user's cache dir: `vectors.i8` (one
row of int8 per token), `scales.f32`, `vocab.txt`. A hook then memory-maps `vectors.i8` and
reads only the rows of the prompt's tokens, in plain Python.

`CachedSemanticIndex` is `semantic.SemanticIndex.score` (kNN: the mean of the best cosine and
the mean of the k best, rescaled) over agent texts embedded beforehand, computed in Python
floats: the same numbers as the numpy index up to float32 rounding (~1e-7).
"""

from __future__ import annotations

import json
import math
import mmap
import os
from array import array
from collections import Counter
from operator import mul

from switchyard.routing.static import DATA_FILE, StaticEmbedder
from switchyard.routing.wordpiece import WordPiece

TYPE_CHECKING = False  # typing is not imported at run time: `route --hook` loads this per prompt
if TYPE_CHECKING:
    from typing import Any, Sequence

TABLE_FILES = ("vectors.i8", "scales.f32", "vocab.txt", "meta.json")


def data_path() -> str:
    """The packaged static embeddings file (it sits next to static.py)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", DATA_FILE)


def table_dir(cache_root: str) -> str:
    """Where the uncompressed table of this data file lives: named after the file's size and
    mtime, so that a new release's table never mixes with an old one."""
    st = os.stat(data_path())
    return os.path.join(cache_root, f"static-{st.st_size}-{st.st_mtime_ns}")


def extract_table(cache_root: str) -> str:
    """Write the uncompressed table (numpy: the cold path only), atomically: into a private
    folder first, then renamed into place. Returns the table's folder."""
    import shutil

    import numpy as np

    final = table_dir(cache_root)
    if _table_ok(final):
        return final
    os.makedirs(cache_root, exist_ok=True)
    tmp = f"{final}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        with open(data_path(), "rb") as fh, np.load(fh) as data:
            vectors = np.ascontiguousarray(data["vectors"], dtype=np.int8)
            scales = np.ascontiguousarray(data["scales"], dtype="<f4")
            vocab = str(data["vocab"])
            source = str(data["source"])
        rows, dims = vectors.shape
        if len(vocab.split("\n")) != rows or len(scales) != rows:
            raise ValueError(f"{DATA_FILE}: vocab, scales and vectors disagree")
        vectors.tofile(os.path.join(tmp, "vectors.i8"))
        scales.tofile(os.path.join(tmp, "scales.f32"))
        with open(os.path.join(tmp, "vocab.txt"), "w", encoding="utf-8") as fh:
            fh.write(vocab)
        with open(os.path.join(tmp, "meta.json"), "w", encoding="utf-8") as fh:
            json.dump({"rows": rows, "dims": dims, "source": source}, fh)
        if os.path.isdir(final):  # a broken table (failed _table_ok): replace it
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.rename(tmp, final)
        except OSError:  # another process put its (identical) table there first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _table_ok(folder: str) -> bool:
    try:
        with open(os.path.join(folder, "meta.json"), encoding="utf-8") as fh:
            meta = json.load(fh)
        rows, dims = int(meta["rows"]), int(meta["dims"])
        return (os.path.getsize(os.path.join(folder, "vectors.i8")) == rows * dims
                and os.path.getsize(os.path.join(folder, "scales.f32")) == rows * 4
                and os.path.getsize(os.path.join(folder, "vocab.txt")) >= rows)
    except (OSError, ValueError, KeyError, TypeError):
        return False


class TokenTable:
    """The uncompressed table, read lazily: a prompt's embedding reads only its tokens' rows.
    Raises OSError/ValueError when the table is missing or does not hold together."""

    low, high = StaticEmbedder.low, StaticEmbedder.high
    label = StaticEmbedder.label

    def __init__(self, folder: str) -> None:
        with open(os.path.join(folder, "meta.json"), encoding="utf-8") as fh:
            meta = json.load(fh)
        self.rows, self.dims = int(meta["rows"]), int(meta["dims"])
        self.name = f"static {meta['source']}"
        with open(os.path.join(folder, "vocab.txt"), encoding="utf-8") as fh:
            vocab = fh.read().split("\n")
        self.scales = array("f")
        with open(os.path.join(folder, "scales.f32"), "rb") as fh:
            self.scales.frombytes(fh.read())
        if self.scales.itemsize != 4 or len(self.scales) != self.rows or len(vocab) != self.rows:
            raise ValueError(f"the static table in {folder} does not hold together")
        if array("i", [1]).tobytes()[0] != 1:  # the table is little-endian, as written
            self.scales.byteswap()
        with open(os.path.join(folder, "vectors.i8"), "rb") as fh:
            if os.fstat(fh.fileno()).st_size != self.rows * self.dims:
                raise ValueError(f"the static table in {folder} does not hold together")
            self._vectors = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        self.tokenizer = WordPiece(vocab)

    def embed(self, text: str, token_weights: "TokenWeights | None" = None) -> list[float]:
        """StaticEmbedder.encode for one text: the L2-normalised sum of its tokens' vectors,
        each times its `token_weights` weight when given (the index's IDF over agents)."""
        dims = self.dims
        total = [0.0] * dims
        for token, count in Counter(self.tokenizer.ids(text)).items():
            weight = count * self.scales[token]
            if token_weights is not None:
                weight *= token_weights.of(token)
            row = array("b", self._vectors[token * dims:(token + 1) * dims])
            total = [t + weight * x for t, x in zip(total, row)]
        norm = math.sqrt(sum(x * x for x in total))
        return [x / norm for x in total] if norm > 0 else total


class TokenWeights:
    """StaticEmbedder.index_token_weights, kept sparse: the weight of every token some agent's
    texts use (`weights`: token id -> weight), and the one weight of all the others."""

    def __init__(self, weights: dict[int, float], default: float) -> None:
        self.weights, self.default = weights, default

    def of(self, token: int) -> float:
        return self.weights.get(token, self.default)

    @classmethod
    def of_array(cls, array_: Any) -> "TokenWeights":
        """From the dense array (numpy): the most common value is the default."""
        import numpy as np

        values, counts = np.unique(array_, return_counts=True)
        default = float(values[counts.argmax()])
        ids = np.nonzero(array_ != default)[0]
        return cls({int(i): float(array_[i]) for i in ids}, default)

    def to_json(self) -> dict[str, Any]:
        return {"default": self.default, "weights": {str(k): v for k, v in self.weights.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TokenWeights":
        return cls({int(k): float(v) for k, v in data["weights"].items()}, float(data["default"]))


class CachedSemanticIndex:
    """The semantic layer over texts embedded beforehand (`vectors`: agent id -> the float32
    rows of its texts, as `SemanticIndex` embeds them) and a `TokenTable` for the message.
    Only the static profile's form: kNN, no linear head (profiles.PROFILES["static"])."""

    kind = "static"
    head_share = 0.0
    head = None

    def __init__(self, vectors: dict[str, Sequence[Sequence[float]]], table: TokenTable, *,
                 k: int = 3, token_weights: TokenWeights | None = None,
                 hub: dict[str, float] | None = None) -> None:
        self.embedder = table
        self.k = max(1, k)
        self.token_weights = token_weights
        self.hub = hub or {}          # SemanticIndex's hub offsets, per agent
        self.low, self.high = table.low, table.high
        self.vectors = {a: rows for a, rows in vectors.items() if len(rows)}
        self.agent_ids = list(self.vectors)

    def score(self, text: str) -> dict[str, float]:
        if not self.agent_ids:
            return {}
        q = self.embedder.embed(text, self.token_weights)
        span = self.high - self.low
        out: dict[str, float] = {}
        for agent_id, rows in self.vectors.items():
            sims = sorted((sum(map(mul, row, q)) for row in rows), reverse=True)
            best = sims[0]
            topk = sum(sims[: self.k]) / min(len(sims), self.k)
            raw = (best + topk) / 2 - self.hub.get(agent_id, 0.0)
            out[agent_id] = min(1.0, max(0.0, (raw - self.low) / span))
        return out


def rows_of(index: Any) -> dict[str, bytes]:
    """A built `semantic.SemanticIndex`'s embedded texts, per agent, as little-endian float32
    bytes (row after row): the cold path stores them, `unpack_rows` reads them back."""
    out: dict[str, bytes] = {}
    for i, agent_id in enumerate(index.agent_ids):
        start, end = int(index._starts[i]), int(index._starts[i + 1])
        out[agent_id] = index._matrix[start:end].astype("<f4").tobytes()
    return out


def unpack_rows(raw: bytes, dims: int) -> list[array]:
    values = array("f")
    values.frombytes(raw)
    if array("i", [1]).tobytes()[0] != 1:
        values.byteswap()
    if values.itemsize != 4 or dims <= 0 or len(values) % dims:
        raise ValueError("cached embeddings of the wrong size")
    return [values[i:i + dims] for i in range(0, len(values), dims)]
