"""The router's on-disk vector cache (routing/vector_cache.py): a second build embeds only new
texts, gives the same vectors as the first, survives a damaged file, and a read-only cache
folder only costs the speed-up."""

from __future__ import annotations

import os

import numpy as np
import pytest

from switchyard.routing import vector_cache


class CountingEncoder:
    """Deterministic unit vectors from the text (a stand-in for the model: what is checked is
    which texts reach it)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.seen += texts
        rows = [np.random.default_rng(abs(hash(t)) % 2**32).normal(size=8) for t in texts]
        return np.stack([r / np.linalg.norm(r) for r in rows]).astype(np.float32)


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_a_second_build_embeds_only_new_texts_and_agrees_with_the_first():
    encoder = CountingEncoder()
    first = vector_cache.encode_cached(["refund my order", "book a flight", "refund my order"], encoder, "m")
    assert encoder.seen == ["refund my order", "book a flight"]       # a repeated text once
    assert first.shape == (3, 8) and np.allclose(first[0], first[2])
    encoder.seen.clear()
    second = vector_cache.encode_cached(["book a flight", "reset my password"], encoder, "m")
    assert encoder.seen == ["reset my password"]
    assert np.array_equal(second[0], first[1])    # a cached vector is the vector it stored
    assert np.allclose(np.linalg.norm(second, axis=1), 1.0, atol=1e-6)
    # Another model has a cache of its own.
    encoder.seen.clear()
    vector_cache.encode_cached(["book a flight"], encoder, "other model")
    assert encoder.seen == ["book a flight"]


def test_a_damaged_cache_is_rebuilt_and_a_full_one_keeps_the_latest_texts(monkeypatch):
    encoder = CountingEncoder()
    path = vector_cache.cache_path("m")
    os.makedirs(os.path.dirname(path))
    with open(path, "wb") as fh:
        fh.write(b"not a numpy file")
    vector_cache.encode_cached(["a", "b"], encoder, "m")
    assert encoder.seen == ["a", "b"]
    monkeypatch.setattr(vector_cache, "MAX_ENTRIES", 3)
    vector_cache.encode_cached(["c", "d"], encoder, "m")          # 4 > 3: only this build's stay
    encoder.seen.clear()
    vector_cache.encode_cached(["a", "c", "d"], encoder, "m")
    assert encoder.seen == ["a"]


def test_an_unwritable_cache_folder_still_embeds(tmp_path, monkeypatch):
    if os.geteuid() == 0:
        # root writes anywhere: make the folder's place a file instead.
        blocker = tmp_path / "blocked"
        blocker.write_text("a file where the cache folder should be")
        monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    else:
        (tmp_path / "ro").mkdir(mode=0o500)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "ro"))
    encoder = CountingEncoder()
    out = vector_cache.encode_cached(["x", "y"], encoder, "m")
    assert out.shape == (2, 8) and encoder.seen == ["x", "y"]
