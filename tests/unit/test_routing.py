"""The router: rules, BM25 ranking, threshold -> LLM choice, fallback, stickiness,
explanations, config errors, the eval command, and (when installed) the semantic layer."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from switchyard.config.schema import AgentConfig
from switchyard.errors import ConfigError, LLMError
from switchyard.llm.base import Finish, TextDelta, ToolSpec
from switchyard.llm.function import FunctionModel, StepInfo
from switchyard.routing import Router, RoutingDecision, minilm, semantic, static
from switchyard.routing.cli import route_main
from switchyard.routing.eval import EvalFileError, evaluate, format_report, load_cases
from switchyard.routing.lexical import LexicalIndex, tokenize
from switchyard.routing.llm_choice import parse_choice


def agent(agent_id: str, description: str = "", keywords=(), patterns=(), examples=()) -> AgentConfig:
    return AgentConfig.model_validate({
        "agentId": agent_id, "llm": {"provider": "echo"},
        "routing": {"description": description or None, "keywords": list(keywords),
                    "patterns": list(patterns), "examples": list(examples)}})


AGENTS = [
    agent("billing", "Invoices, payments, refunds and subscription plans.",
          keywords=["invoice", "refund"], patterns=[r"\bINV-\d{4,}\b"],
          examples=["I was charged twice this month", "cancel my subscription plan",
                    "update the credit card for payments"]),
    agent("travel", "Flights, hotels, visas and trip itineraries.",
          keywords=["flight", "hotel"],
          examples=["book a flight to Lisbon", "find a hotel near the station",
                    "do I need a visa for Japan"]),
    agent("cooking", "Recipes, ingredients and baking.",
          keywords=["recipe"],
          examples=["how long to roast a chicken", "substitute butter in a cake",
                    "a vegetarian lasagna recipe"]),
    agent("general", "General questions."),
]


def lexical_router(**kwargs: Any) -> Router:
    return Router(AGENTS, fallback=kwargs.pop("fallback", "general"), semantic=False, **kwargs)


def ScriptedLLM(answer: str | Exception) -> FunctionModel:  # noqa: N802
    """A model that streams a fixed answer (or raises); its `steps` record the prompts."""

    def reply(messages: list[dict[str, Any]], tools: list[ToolSpec], info: StepInfo) -> list[Any]:
        if isinstance(answer, Exception):
            raise answer
        # In fragments, like a real stream.
        return [TextDelta(answer[i:i + 4]) for i in range(0, len(answer), 4)] + [Finish("stop")]

    return FunctionModel(reply, provider="scripted", model="test")


# --- layers --------------------------------------------------------------------------------

def test_rules_keyword_and_pattern_hit():
    router = Router(AGENTS, fallback="general", semantic=False, layers=["rules"])
    d = router.route_sync("Please resend INV-20931, the invoice never arrived")
    assert d.agent_id == "billing" and d.layer == "rules"
    top = d.ranked[0]
    assert "invoice" in top.matched and any(m.startswith("/") for m in top.matched)
    assert top.layers["rules"] == pytest.approx(1 - 0.5 ** 3)  # keyword + pattern (x2)
    # Keywords match whole words only, in any case: 'refunded' is not the keyword 'refund'.
    assert router.rank("REFUND please")[0].matched == ["refund"]
    assert router.rank("they refunded me")[0].matched == []


def test_lexical_ranking_orders_by_bm25():
    index = LexicalIndex({"a": "flight hotel visa trip", "b": "recipe cake oven baking",
                          "c": "flight delayed compensation airline"})
    scores = index.score("my flight was delayed, can I get compensation?")
    assert scores["c"] > scores["a"] > scores.get("b", 0.0)
    assert 0 < scores["c"] <= 1.0
    assert tokenize("The refunds were charged") == tokenize("refund charge")
    assert index.score("the and of") == {}  # only stopwords: no evidence at all


def test_combined_router_picks_by_lexical_similarity():
    d = lexical_router().route_sync("can you find me a cheap hotel and flight to Rome")
    assert d.agent_id == "travel" and d.layer == "combined" and not d.fallback
    assert [s.score for s in d.ranked] == sorted((s.score for s in d.ranked), reverse=True)
    assert d.confidence == d.ranked[0].score >= 0.2


# --- fallback, threshold, LLM ---------------------------------------------------------------

def test_fallback_takes_what_fits_none():
    d = lexical_router().route_sync("what is the tallest mountain in Africa")
    assert d.agent_id == "general" and d.fallback and d.layer == "fallback"
    assert "fits no specialised agent" in d.reason and "fallback agent general" in d.reason


def test_without_fallback_best_ranked_agent_is_chosen_and_said_so():
    router = Router(AGENTS[:3], semantic=False)
    d = router.route_sync("what is the tallest mountain in Africa")
    assert d.agent_id in {"billing", "travel", "cooking"} and not d.fallback
    assert "no fallback agent is configured" in d.reason


async def test_below_threshold_the_llm_chooses():
    llm = ScriptedLLM("cooking\n")
    router = lexical_router(llm=llm)
    d = await router.route("my risotto is mushy")
    assert d.agent_id == "cooking" and d.layer == "llm"
    assert "LLM (scripted/test) chose cooking" in d.reason
    messages, system = llm.steps[0].messages, llm.steps[0].info.system
    prompt = messages[0]["content"]
    # The LLM sees every agent's description but not the fallback (that is what NONE means).
    assert "- travel: Flights, hotels" in prompt and "- general:" not in prompt
    assert "NONE" in system


async def test_llm_is_not_asked_when_the_scores_are_confident():
    llm = ScriptedLLM("cooking")
    d = await lexical_router(llm=llm).route("refund invoice INV-12345 please")
    assert d.agent_id == "billing" and llm.steps == []


@pytest.mark.parametrize("answer, why", [
    ("I think it's probably the cooking agent or maybe travel.", "unusable answer"),
    ("plumbing", "unusable answer"),
    (LLMError("boom", provider="scripted", upstream_status=503), "LLMError"),
])
async def test_llm_garbage_or_failure_falls_back(answer, why):
    d = await lexical_router(llm=ScriptedLLM(answer)).route("my risotto is mushy")
    assert d.agent_id == "general" and d.fallback
    assert "no usable choice" in d.reason and why in d.reason


async def test_llm_none_means_fallback():
    d = await lexical_router(llm=ScriptedLLM("NONE")).route("tell me a joke about penguins")
    assert d.agent_id == "general" and d.fallback and "said no agent fits" in d.reason


# --- the fallback as a "none" class -----------------------------------------------------------

GENERAL_WITH_EXAMPLES = agent("general", "General knowledge, trivia, stories and jokes.",
                              examples=["tell me a joke about penguins", "who wrote Hamlet",
                                        "write a poem about the sea", "why is the sky blue"])
NONE_AGENTS = [*AGENTS[:-1], GENERAL_WITH_EXAMPLES]


def test_fallback_with_examples_is_scored_and_wins_when_it_ranks_first():
    router = Router(NONE_AGENTS, fallback="general", semantic=False)
    assert router.fallback_scored and router.fallback_bonus > 0
    assert router.describe()["fallbackBonus"] == router.fallback_bonus
    d = router.route_sync("write a short poem about penguins")
    assert d.agent_id == "general" and d.fallback and d.layer == "fallback"
    assert d.ranked[0].agent_id == "general"
    assert "fits no specialised agent" in d.reason and "none-bonus" in d.reason
    # Real requests still go to their agent.
    assert router.route_sync("refund invoice INV-12345 please").agent_id == "billing"
    assert router.route_sync("book a flight and a hotel in Lisbon").agent_id == "travel"


def test_fallback_bonus_is_added_to_the_fallback_score_only():
    plain = Router(NONE_AGENTS, fallback="general", semantic=False, fallback_bonus=0.0)
    bonus = Router(NONE_AGENTS, fallback="general", semantic=False, fallback_bonus=0.3)
    text = "who wrote the poem about the hotel"
    a = {s.agent_id: s.score for s in plain.rank(text)}
    b = {s.agent_id: s.score for s in bonus.rank(text)}
    assert b["general"] == pytest.approx(min(1.0, a["general"] + 0.3))
    assert all(a[k] == b[k] for k in a if k != "general")


def test_fallback_without_examples_is_scored_from_its_description():
    router = lexical_router()  # general has a description only
    assert router.fallback_scored and router.fallback_bonus > 0
    d = router.route_sync("tell me a joke about penguins")
    assert d.agent_id == "general" and d.fallback and "fits no specialised agent" in d.reason
    assert lexical_router().route_sync("refund invoice INV-12345").agent_id == "billing"


async def test_fallback_ranking_first_asks_the_llm_when_configured():
    llm = ScriptedLLM("NONE")
    router = Router(NONE_AGENTS, fallback="general", semantic=False, llm=llm)
    d = await router.route("write a short poem about penguins")
    assert llm.steps, "the LLM decides unclear 'none' cases too"
    assert d.agent_id == "general" and d.fallback and "said no agent fits" in d.reason
    prompt = llm.steps[0].messages[0]["content"]
    assert "- general:" not in prompt


def test_switching_a_session_to_the_fallback_is_flagged():
    router = Router(NONE_AGENTS, fallback="general", semantic=False, sticky_margin=0.05)
    d = router.route_sync("write a poem about the sea", current_agent="billing")
    assert d.agent_id == "general" and d.fallback and not d.sticky


def test_parse_choice_is_strict():
    ids = ["billing", "travel"]
    assert parse_choice("billing", ids) == ("billing", True)
    assert parse_choice('  "Travel".\n', ids) == ("travel", True)
    assert parse_choice("**billing**", ids) == ("billing", True)
    assert parse_choice('{"agent": "travel"}', ids) == ("travel", True)
    assert parse_choice('{"agent": null}', ids) == (None, True)
    assert parse_choice("none", ids) == (None, True)
    assert parse_choice("billing\ntravel", ids) == (None, False)
    assert parse_choice("billing or travel", ids) == (None, False)
    assert parse_choice("{not json", ids) == (None, False)
    assert parse_choice("", ids) == (None, False)


# --- stickiness and explanations --------------------------------------------------------------

def test_sticky_keeps_session_agent_for_an_ambiguous_follow_up():
    router = lexical_router()
    d = router.route_sync("and what about the second one?", current_agent="travel")
    assert d.agent_id == "travel" and d.sticky and d.layer == "sticky"
    assert "stayed with travel, the session's agent" in d.reason


def test_sticky_switches_when_another_agent_fits_clearly_better():
    router = lexical_router()
    d = router.route_sync("I need a refund for invoice INV-55555", current_agent="travel")
    assert d.agent_id == "billing" and not d.sticky
    assert "switched from travel to billing" in d.reason and "margin" in d.reason


def test_sticky_margin_decides():
    text = "a hotel with a good recipe for breakfast"  # travel and cooking both plausible
    loose = lexical_router(sticky_margin=0.0).route_sync(text, current_agent="billing")
    strict = lexical_router(sticky_margin=0.99).route_sync(text, current_agent="billing")
    assert loose.agent_id != "billing" and strict.agent_id == "billing"
    assert "< 0.99" in strict.reason


def test_unknown_session_agent_is_ignored_and_said_so():
    d = lexical_router().route_sync("book a flight to Lisbon", current_agent="gone")
    assert d.agent_id == "travel" and "ignored unknown session agent 'gone'" in d.reason


def test_explanation_and_to_dict_shape():
    d = lexical_router().route_sync("refund for invoice INV-12345")
    assert isinstance(d, RoutingDecision)
    assert "billing ranks first" in d.reason and "matched 'refund', 'invoice'" in d.reason
    assert r"/\bINV-\d{4,}\b/" in d.reason  # the pattern as written, not its repr
    assert "next:" in d.reason  # names the runner-up
    body = d.to_dict()
    assert set(body) == {"agentId", "confidence", "layer", "reason", "sticky", "fallback",
                         "latencyMs", "ranked"}
    assert body["agentId"] == "billing" and body["latencyMs"] >= 0
    first = body["ranked"][0]
    assert first["agentId"] == "billing" and set(first["scores"]) == {"rules", "lexical"}
    assert "refund" in first["matched"]
    json.dumps(body)  # serialisable as is


# --- config errors ----------------------------------------------------------------------------

def test_bad_pattern_names_agent_and_field():
    bad = agent("ops", "ops", patterns=[r"ok", r"(unclosed"])
    with pytest.raises(ConfigError) as err:
        Router([bad, *AGENTS], semantic=False, sources={"ops": "agents/ops.yml"})
    text = str(err.value)
    assert "'ops'" in text and "routing.patterns[1]" in text and "(unclosed" in text
    assert "agents/ops.yml" in text


def test_unknown_fallback_and_duplicate_ids_are_errors():
    with pytest.raises(ConfigError, match="fallback agent 'nobody' is not among the agents"):
        Router(AGENTS, fallback="nobody", semantic=False)
    with pytest.raises(ConfigError, match="share the agentId 'billing'"):
        Router([AGENTS[0], AGENTS[0]], semantic=False)
    with pytest.raises(ConfigError, match="at least one agent"):
        Router([], semantic=False)


def test_semantic_required_but_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(minilm, "unavailable_reason", lambda: "the MiniLM weights file is missing")
    monkeypatch.setattr(semantic, "unavailable_reason", lambda: "sentence-transformers is not installed")
    with pytest.raises(ConfigError, match="semantic routing was requested but is unavailable"):
        Router(AGENTS, semantic=True)
    # auto: the static embeddings shipped in the package take the full model's place
    router = Router(AGENTS, semantic="auto")
    assert router.layers == ("rules", "lexical", "semantic") and router.embedder_kind == "static"
    monkeypatch.setattr(static, "unavailable_reason", lambda: "numpy is not installed")
    router = Router(AGENTS, semantic="auto")  # neither: quietly off, and says why
    assert router.layers == ("rules", "lexical") and "numpy is not installed" in router.semantic_note


# --- eval and the CLI -------------------------------------------------------------------------

def write_agents_dir(tmp_path: Path) -> Path:
    d = tmp_path / "agents"
    d.mkdir()
    for a in AGENTS:
        (d / f"{a.agentId}.yml").write_text(json.dumps(a.model_dump(exclude_none=True, by_alias=True)))
    return d


def test_eval_reports_accuracy_confusion_and_latency(tmp_path, capsys):
    cases = [("refund my invoice INV-10001", "billing"), ("book a flight and a hotel", "travel"),
             ("a recipe for banana bread", "cooking"), ("who painted the Mona Lisa", "general"),
             ("cancel my subscription plan", "travel")]  # deliberately mislabelled
    f = tmp_path / "set.jsonl"
    f.write_text("\n".join(json.dumps({"text": t, "agent": a}) for t, a in cases) + "\n\n")
    result = evaluate(lexical_router(), load_cases(f, ["billing", "travel", "cooking", "general"]))
    assert (result.correct, result.total) == (4, 5)
    assert result.confusion()[("travel", "billing")] == 1
    report = format_report(result)
    assert "top-1 accuracy: 4/5 = 80.0%" in report and "p50" in report and "p95" in report
    assert "line 5: expected travel, got billing" in report

    agents_dir = write_agents_dir(tmp_path)
    assert route_main(None, str(agents_dir), str(f), "general", "off") == 0
    out = capsys.readouterr().out
    assert "top-1 accuracy: 4/5" in out and "confusion" in out


def test_eval_file_errors_name_the_line(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"text": "hi", "agent": "general"}\n{"text": "oops", agent: x}\n')
    with pytest.raises(EvalFileError, match=r"bad.jsonl line 2: not valid JSON"):
        load_cases(f)
    f.write_text('{"text": "hi", "agent": "general"}\n\n{"text": "x", "agent": "pilot"}\n')
    with pytest.raises(EvalFileError, match=r"line 3: unknown agent 'pilot'"):
        load_cases(f, ["general"])
    f.write_text('{"agent": "general"}\n')
    with pytest.raises(EvalFileError, match=r"line 1: \"text\" must be"):
        load_cases(f)


def test_route_main_prints_decision_and_exit_codes(tmp_path, capsys):
    agents_dir = write_agents_dir(tmp_path)
    assert route_main("refund invoice INV-12345", str(agents_dir), None, "general", "off") == 0
    out = capsys.readouterr().out
    assert "agent: billing" in out and "reason:" in out and "ranking:" in out
    assert route_main("hello", str(agents_dir), None, "nobody", "off") == 2
    assert "fallback agent 'nobody'" in capsys.readouterr().err
    assert route_main("hello", str(tmp_path / "missing"), None, None, "off") == 2
    assert route_main(None, str(agents_dir), None, None, "off") == 2  # neither text nor --eval
    assert route_main("hi", str(agents_dir), None, None, "sometimes") == 2
    (agents_dir / "bad.yml").write_text("agentId: bad\nrouting:\n  patterns: ['[']\n")
    assert route_main("hi", str(agents_dir), None, None, "off") == 2
    err = capsys.readouterr().err
    assert "'bad'" in err and "routing.patterns[0]" in err


def test_example_agents_load_and_route():
    root = Path(__file__).resolve().parents[2]
    assert route_main("my payment was declined twice", str(root / "examples" / "agents"),
                      None, "general", "off") == 0


# --- semantic layer (skipped without the [semantic] extra) ------------------------------------

def test_available_does_not_import_heavy_modules():
    code = ("import sys; from switchyard.routing import Router, semantic; semantic.available(); "
            "print(any(m in sys.modules for m in ('torch', 'sentence_transformers', 'numpy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


needs_semantic = pytest.mark.skipif(not semantic.available(),
                                    reason=f"semantic layer unavailable: {semantic.unavailable_reason()}")


@needs_semantic
def test_semantic_layer_understands_paraphrases():
    router = Router(AGENTS, fallback="general", semantic=True)
    assert router.layers == ("rules", "lexical", "semantic")
    # No shared keyword with the billing examples, only meaning.
    d = router.route_sync("the money was taken from my account two times")
    assert d.agent_id == "billing" and d.ranked[0].layers["semantic"] > 0
    assert "semantic" in d.reason
    only = Router(AGENTS, fallback="general", semantic=True, layers=["semantic"])
    assert only.route_sync("what should I cook for dinner with eggs").agent_id == "cooking"
    assert only.route_sync("explain quantum entanglement to me").agent_id == "general"


@needs_semantic
async def test_semantic_route_async_matches_sync():
    router = Router(AGENTS, fallback="general", semantic=True)
    a = await router.route("is there a train to the airport from my hotel")
    assert a.agent_id == router.route_sync("is there a train to the airport from my hotel").agent_id == "travel"


class FakeEmbedder:
    """Fixed 2-d unit vectors per text: enough to check how the semantic layer aggregates."""

    name = "fake"

    def __init__(self, vectors: dict[str, tuple[float, float]]) -> None:
        self.vectors = vectors

    def encode(self, texts):
        import numpy as np

        v = np.array([self.vectors[t] for t in texts], dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.skipif(importlib.util.find_spec("numpy") is None, reason="numpy not installed")
def test_semantic_score_blends_best_and_top_k_neighbours():
    vectors = {"q": (1.0, 0.0), "a1": (1.0, 0.0), "a2": (0.0, 1.0), "a3": (0.0, 1.0),
               "b1": (0.8, 0.6), "b2": (0.8, 0.6), "b3": (0.8, 0.6), "c1": (0.6, 0.8)}
    index = semantic.SemanticIndex({"a": ["a1", "a2", "a3"], "b": ["b1", "b2", "b3"], "c": ["c1"]},
                                   FakeEmbedder(vectors), k=3, low=0.0, high=1.0)
    sims = index.similarities("q")
    assert sims["a"] == pytest.approx((1.0, 1 / 3), abs=1e-6)  # one exact example, two unrelated
    assert sims["b"] == pytest.approx((0.8, 0.8), abs=1e-6)  # three close examples
    assert sims["c"] == pytest.approx((0.6, 0.6), abs=1e-6)  # fewer texts than k
    raw = index.raw("q")
    assert raw["a"] == pytest.approx((1.0 + 1 / 3) / 2, abs=1e-6)
    assert raw["b"] > raw["a"]  # several close neighbours beat one lucky match
    assert index.score("q") == pytest.approx(raw, abs=1e-6)


# --- classifiers trained on the agents' examples ---------------------------------------------

def test_naive_bayes_learns_intent_words_and_bigrams():
    from switchyard.routing.naive_bayes import NaiveBayes, ngrams

    assert ngrams(["charg", "twice"]) == ["charg", "twice", "charg twice"]
    nb = NaiveBayes({"billing": ["I was charged twice for my order", "refund the charge"],
                     "analytics": ["chart the orders per month", "analyse refunds per month"]},
                    tokenize, alpha=0.1)
    p = nb.predict_proba("how many refunds per month, as a chart")
    assert set(p) == {"billing", "analytics"} and sum(p.values()) == pytest.approx(1.0)
    assert p["analytics"] > 0.9  # 'per month' / 'chart' are analytics' words, 'refund' is shared
    assert nb.predict_proba("charged twice again")["billing"] > 0.9
    assert nb.predict_proba("the and of zebra") == {}  # no known feature: no evidence
    # A higher temperature flattens the posterior without changing the order.
    flat = NaiveBayes({"billing": ["I was charged twice for my order"],
                       "analytics": ["chart the orders per month"]}, tokenize, temperature=5.0)
    sharp = NaiveBayes({"billing": ["I was charged twice for my order"],
                        "analytics": ["chart the orders per month"]}, tokenize, temperature=1.0)
    assert 0.5 < flat.predict_proba("charged twice")["billing"] < sharp.predict_proba("charged twice")["billing"]


def test_lexical_layer_blends_bm25_with_naive_bayes():
    router = lexical_router()
    assert router._nb is not None and 0 < router.lexical_nb_share < 1
    text = "I was charged twice, refund please"
    bm25 = router._lexical.score(text)
    nb = router._nb.predict_proba(text)
    s = router.lexical_nb_share
    got = router.rank(text)
    for score in got:
        a = score.agent_id
        assert score.layers["lexical"] == pytest.approx((1 - s) * bm25.get(a, 0) + s * nb.get(a, 0))
    assert got[0].agent_id == "billing"


@pytest.mark.skipif(importlib.util.find_spec("numpy") is None, reason="numpy not installed")
def test_linear_head_separates_classes_and_blends_into_the_semantic_score():
    import numpy as np

    # Two classes split along the first axis, with noise on the second: the head must learn
    # that the first axis is what separates them.
    vectors = {"a1": (1.0, 0.2), "a2": (0.9, -0.4), "a3": (0.7, 0.7),
               "b1": (-1.0, 0.3), "b2": (-0.8, -0.5), "b3": (-0.6, 0.8), "q": (0.3, 1.0)}
    emb = FakeEmbedder(vectors)
    x = emb.encode(["a1", "a2", "a3", "b1", "b2", "b3"])
    head = semantic.LinearHead(x, [0, 0, 0, 1, 1, 1], 2)
    p = head.predict_proba(emb.encode(["q"])[0])
    assert p.shape == (2,) and float(p.sum()) == pytest.approx(1.0, abs=1e-5) and p[0] > p[1]
    assert head.predict_proba(np.array([-1.0, 0.0], dtype=np.float32))[1] > 0.5

    texts = {"a": ["a1", "a2", "a3"], "b": ["b1", "b2", "b3"]}
    plain = semantic.SemanticIndex(texts, emb, low=0.0, high=1.0)
    mixed = semantic.SemanticIndex(texts, emb, low=0.0, high=1.0, head_share=0.5)
    assert plain.head is None and plain.score("q") == pytest.approx(plain.knn_score("q"))
    knn, proba = mixed.knn_score("q"), mixed.head_proba("q")
    assert set(proba) == {"a", "b"} and proba["a"] > proba["b"]
    assert mixed.score("q") == pytest.approx({k: 0.5 * knn[k] + 0.5 * proba[k] for k in knn})


# --- close calls go to the LLM too ------------------------------------------------------------

TWINS = [
    agent("mortgages", "Home loans and mortgage rates.", examples=["what rate for a home loan",
                                                                   "refinance my mortgage"]),
    agent("loans", "Home loans and personal loans.", examples=["what rate for a home loan",
                                                               "a personal loan for a car"]),
    agent("general", "General questions."),
]


async def test_close_call_is_settled_by_the_llm():
    llm = ScriptedLLM("loans")
    router = Router(TWINS, fallback="general", semantic=False, llm=llm)
    first, second = router.rank("what rate for a home loan")[:2]
    assert first.score >= router.threshold and first.score - second.score < router.llm_margin
    d = await router.route("what rate for a home loan")
    assert d.agent_id == "loans" and d.layer == "llm" and len(llm.steps) == 1
    assert "too close to call" in d.reason and "the LLM (scripted/test) chose loans" in d.reason
    # route_sync never asks an LLM: the scores' choice stands.
    assert router.route_sync("what rate for a home loan").agent_id == first.agent_id


async def test_close_call_with_an_unusable_answer_keeps_the_scores_choice():
    router = Router(TWINS, fallback="general", semantic=False, llm=ScriptedLLM("I think both fit"))
    expected = router.route_sync("what rate for a home loan").agent_id
    d = await router.route("what rate for a home loan")
    assert d.agent_id == expected and d.layer != "llm" and not d.fallback
    assert "gave no usable choice" in d.reason and "so the scores decide" in d.reason


async def test_close_calls_not_asked_when_off_clear_or_sticky():
    llm = ScriptedLLM("loans")
    off = Router(TWINS, fallback="general", semantic=False, llm=llm, llm_margin=0)
    assert (await off.route("what rate for a home loan")).layer != "llm" and llm.steps == []
    on = Router(TWINS, fallback="general", semantic=False, llm=llm)
    # A clear winner: no call.
    assert (await on.route("refinance my mortgage")).agent_id == "mortgages" and llm.steps == []
    # A session's agent kept by stickiness: no call either.
    d = await on.route("what rate for a home loan", current_agent="mortgages")
    assert d.sticky and d.agent_id == "mortgages" and llm.steps == []
