"""all-MiniLM-L6-v2 in numpy (routing/minilm.py), the default install's semantic layer: its
vectors against the real model's, batching, and the router's choice of embeddings (the numpy
model by default, the static embeddings when its weights file is missing).

The reference vectors (data/minilm_reference.json) were produced by the real model through
sentence-transformers, by bench/routing/export_minilm.py --fixture; no torch is needed here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from switchyard.config.schema import AgentConfig
from switchyard.errors import ConfigError
from switchyard.routing import Router, minilm, semantic, static
from switchyard.routing.profiles import PROFILES

pytestmark = pytest.mark.skipif(minilm.unavailable_reason() is not None,
                                reason=f"numpy MiniLM unavailable: {minilm.unavailable_reason()}")

REFERENCE = Path(__file__).parent / "data" / "minilm_reference.json"


def card_agent(agent_id: str, description: str) -> AgentConfig:
    return AgentConfig.model_validate({"agentId": agent_id, "llm": {"provider": "echo"},
                                       "agentCard": {"name": agent_id.title(), "description": description}})


AGENTS = [card_agent("payments", "Payments, refunds and invoices."),
          card_agent("shipping", "Parcels, deliveries and tracking."),
          card_agent("accounts", "Login problems, passwords and profile settings."),
          card_agent("general", "Anything else.")]


def test_vectors_match_the_real_models():
    ref = json.loads(REFERENCE.read_text())
    mine = minilm.NumpyMiniLM().encode(ref["texts"])
    theirs = np.asarray(ref["vectors"], dtype=np.float32)
    assert mine.shape == theirs.shape == (len(ref["texts"]), 384) and mine.dtype == np.float32
    assert np.allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
    cosines = (mine * theirs).sum(axis=1)
    assert cosines.min() >= 0.995, dict(zip(ref["texts"], cosines.round(4)))
    # and not merely "some unit vectors": each text is nearest to its own reference
    assert ((mine @ theirs.T).argmax(axis=1) == np.arange(len(theirs))).all()


def test_a_batch_with_padding_gives_each_texts_own_vector():
    enc = minilm.NumpyMiniLM(cache=False)   # the batching itself (the cache stores float16)
    texts = ["ok", "where is my parcel, it's a week late", "", "Payments, refunds and invoices."]
    together = enc.encode(texts)
    alone = np.vstack([enc.encode([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-5)


def test_tokens_are_framed_and_cut_as_the_models_tokenizer_does():
    tok = minilm.NumpyMiniLM().tokenizer
    ids = minilm.token_ids(tok, "My payment failed")
    assert ids[0] == tok.vocab["[CLS]"] and ids[-1] == tok.vocab["[SEP]"] and len(ids) == 5
    long = minilm.token_ids(tok, "word " * 1000)
    assert len(long) == minilm.MAX_TOKENS and long[-1] == tok.vocab["[SEP]"]
    assert minilm.NumpyMiniLM().encode(["word " * 1000]).shape == (1, 384)


def test_the_default_router_uses_it_with_the_full_models_constants():
    router = Router(AGENTS)
    assert isinstance(router._semantic.embedder, minilm.NumpyMiniLM)
    assert router.embedder_kind == "full" and router.threshold == PROFILES["full"].threshold
    assert router.semantic_note is None and router.describe()["embedder"] == minilm.NumpyMiniLM.name
    d = router.route_sync("My payment failed")
    assert d.agent_id == "payments", d.reason
    assert "semantic" in d.reason and "(all-MiniLM-L6-v2, numpy)" in d.reason  # names the layer used
    assert router.route_sync("I can't log in").agent_id == "accounts"


def test_without_its_weights_file_the_router_falls_back_to_the_static_embeddings(monkeypatch, tmp_path):
    monkeypatch.setattr(minilm, "data_path", lambda: tmp_path / "missing.npz")
    monkeypatch.setattr(semantic, "unavailable_reason", lambda: "sentence-transformers is not installed")
    assert "minilm_l6.npz is missing" in minilm.unavailable_reason()
    router = Router(AGENTS)
    assert isinstance(router._semantic.embedder, static.StaticEmbedder)
    assert router.embedder_kind == "static" and router.threshold == PROFILES["static"].threshold
    assert "minilm_l6.npz is missing" in router.semantic_note
    d = router.route_sync("My payment failed")
    assert d.agent_id == "payments" and "(static MiniLM)" in d.reason
    with pytest.raises(ConfigError, match="minilm_l6.npz is missing.*sentence-transformers is not installed"):
        Router(AGENTS, semantic=True)  # the full model required: neither path is there


def test_openblas_is_asked_for_one_thread_when_the_model_loads():
    """One short message's products are small: a second BLAS thread on a busy machine cost
    4-30x (RESULTS.md, round 7). Only where numpy's OpenBLAS can be found (Linux)."""
    import ctypes

    minilm.NumpyMiniLM()
    try:
        maps = open("/proc/self/maps", encoding="utf-8").read()
    except OSError:
        pytest.skip("no /proc/self/maps")
    paths = sorted({line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower()
                    and "/" in line})
    getter = next((getattr(ctypes.CDLL(p), s) for p in paths
                   for s in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                             "scipy_openblas_get_num_threads", "openblas_get_num_threads")
                   if hasattr(ctypes.CDLL(p), s)), None)
    if getter is None:
        pytest.skip("numpy does not use OpenBLAS here")
    import os

    assert getter() == int(os.environ.get("SWITCHYARD_ROUTER_THREADS", "1"))  # set by the load
