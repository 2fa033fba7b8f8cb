"""Sentence vectors of agent texts, kept on disk between runs: an index build embeds only the
texts it has not seen (the numpy MiniLM takes seconds for a few hundred texts; a server
restart or a one-shot `switchyard route` then takes a fraction of that).

One file per model (`~/.cache/switchyard/router-vectors/<model>.npz`, or under
$XDG_CACHE_HOME): the SHA-1 of each text and its vector (float16: the cosines the router
computes move by < 1e-3). Written atomically (a temporary file, then a rename), so that two
processes building at once never leave a half-written file; an unreadable file is ignored and
replaced. At most `MAX_ENTRIES` vectors: past that, only the texts of the latest build stay.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile

from switchyard.routing.cache_dirs import cache_root

TYPE_CHECKING = False  # typing is not imported at run time (routing/hook.py's path)
if TYPE_CHECKING:
    from typing import Any, Callable, Sequence

MAX_ENTRIES = 50_000
log = logging.getLogger("switchyard.routing")


def cache_path(model: str) -> str:
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in model)[:80]
    return os.path.join(cache_root(), "router-vectors", f"{name}.npz")


def _digest(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest()


def _read(path: str) -> dict[bytes, Any]:
    import numpy as np

    try:
        with np.load(path) as data:
            keys, vectors = data["keys"], data["vectors"]
            if len(keys) != len(vectors):
                raise ValueError("keys and vectors differ in length")
            return {bytes(k): v for k, v in zip(keys, vectors)}
    except FileNotFoundError:
        return {}
    except Exception as exc:  # noqa: BLE001 - a damaged cache is rebuilt, never an error
        log.info("router vector cache %s unreadable (%s): rebuilt", path, exc)
        return {}


def _write(path: str, table: dict[bytes, Any]) -> None:
    import numpy as np

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, keys=np.array(list(table), dtype="S20"),
                         vectors=np.stack(list(table.values())).astype(np.float16))
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:  # a read-only home: the build still works, uncached
        log.info("router vector cache %s not written: %s", path, exc)


def encode_cached(texts: Sequence[str], encode: Callable[[list[str]], Any], model: str) -> Any:
    """`encode(texts)` as an (n x d) float32 array, reading the vectors of texts seen before
    from the cache and adding the others to it."""
    import numpy as np

    path = cache_path(model)
    table = _read(path)
    keys = [_digest(t) for t in texts]
    first_of: dict[bytes, int] = {}
    for i, k in enumerate(keys):
        first_of.setdefault(k, i)
    missing = [i for k, i in first_of.items() if k not in table]   # a repeated text once
    if missing:
        fresh = np.asarray(encode([texts[i] for i in missing]), dtype=np.float32)
        if len(table) + len(missing) > MAX_ENTRIES:
            table = {k: table[k] for k in keys if k in table}
        for i, vector in zip(missing, fresh):
            table[keys[i]] = vector.astype(np.float16)
        _write(path, table)
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    out = np.stack([table[k] for k in keys]).astype(np.float32)
    # float16 storage: put the rows back on the unit sphere.
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
