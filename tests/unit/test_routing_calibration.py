"""Round 6 of the router (issue 16): descriptions read as lists of topics, the semantic layer's
hub correction (an agent near every message must not win by sitting in the middle), and the
static embedder's per-index token weights (words every agent uses count less)."""

from __future__ import annotations

import numpy as np
import pytest

from switchyard.config.schema import AgentConfig
from switchyard.routing import Router, static
from switchyard.routing.agent_texts import description_phrases, routing_texts, semantic_texts
from switchyard.routing.semantic import SemanticIndex


def agent(agent_id: str, description: str | None = None, *, routing_description: str | None = None,
          examples: list[str] | None = None) -> AgentConfig:
    raw: dict = {"agentId": agent_id, "llm": {"provider": "echo"}}
    if description:
        raw["agentCard"] = {"name": agent_id.title(), "description": description}
    routing = {k: v for k, v in (("description", routing_description), ("examples", examples)) if v}
    if routing:
        raw["routing"] = routing
    return AgentConfig.model_validate(raw)


# --- descriptions as lists of topics -----------------------------------------------------------

def test_a_description_listing_topics_gives_each_topic_as_a_text():
    a = agent("payments", "Payments, refunds and invoices.",
              routing_description="Card payments / bank transfers")
    assert description_phrases(a) == ["Card payments", "bank transfers", "Payments", "refunds", "invoices"]
    texts = semantic_texts(a)
    # the whole descriptions stay, the topics come after them, nothing twice
    assert texts[:2] == routing_texts(a) == ["Card payments / bank transfers", "Payments, refunds and invoices."]
    assert texts[2:] == ["Card payments", "bank transfers", "Payments", "refunds", "invoices"]


def test_a_single_topic_description_is_not_split():
    a = agent("weather", "Tells you the weather forecast.", examples=["will it rain"])
    assert description_phrases(a) == []
    assert semantic_texts(a) == routing_texts(a)


# --- hub correction ----------------------------------------------------------------------------

class TableEmbedder:
    """Texts to fixed unit vectors: the index's arithmetic checked on numbers we choose."""

    name = "table"

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = {t: np.asarray(v, dtype=np.float32) / np.linalg.norm(v) for t, v in table.items()}

    def encode(self, texts):
        return np.stack([self.table[t] for t in texts])


# "hub" sits between the two specialised agents: it is close to everything.
TABLE = {"cards": [1, 0, 0], "card declined": [1, 0.1, 0], "loans": [0, 1, 0],
         "borrow money": [0.1, 1, 0], "money": [1, 1, 0.2], "bank": [1, 1, 0.3],
         "my card was refused": [1, 0.75, 0]}
TEXTS = {"cards": ["cards", "card declined"], "loans": ["loans", "borrow money"], "hub": ["money", "bank"]}


def test_hub_offsets_penalise_the_agent_close_to_everyone_and_average_to_zero():
    index = SemanticIndex(TEXTS, TableEmbedder(TABLE), hub_weight=0.5)
    hub = dict(zip(index.agent_ids, index._hub.tolist()))
    assert hub["hub"] > 0 > hub["cards"] and hub["loans"] < 0
    assert sum(hub.values()) == pytest.approx(0.0, abs=1e-6)
    # the offset is subtracted from the raw score, so it moves the ranking
    plain = SemanticIndex(TEXTS, TableEmbedder(TABLE)).raw("my card was refused")
    corrected = index.raw("my card was refused")
    assert max(plain, key=plain.get) == "hub"  # the hub wins without the correction...
    assert max(corrected, key=corrected.get) == "cards"  # ...and the card agent with it
    for a in TEXTS:
        assert corrected[a] == pytest.approx(plain[a] - hub[a], abs=1e-6)


def test_no_hub_correction_with_one_agent_or_weight_zero():
    one = SemanticIndex({"cards": TEXTS["cards"]}, TableEmbedder(TABLE), hub_weight=0.5)
    assert one._hub.tolist() == [0.0]
    off = SemanticIndex(TEXTS, TableEmbedder(TABLE), hub_weight=0.0)
    assert not off._hub.any()


# --- per-index token weights of the static embedder --------------------------------------------

@pytest.mark.skipif(static.unavailable_reason() is not None, reason="static embeddings unavailable")
def test_static_token_weights_lower_words_every_agent_uses():
    emb = static.StaticEmbedder()
    owners = ["a", "b", "c"]
    texts = ["account payment card", "account payment loan", "account savings"]
    w = emb.index_token_weights(owners, texts)
    ids = {t: emb.tokenizer.ids(t)[0] for t in ("account", "payment", "loan", "weather")}
    assert w[ids["account"]] < w[ids["payment"]] < w[ids["loan"]] < w[ids["weather"]]
    # with weights, a text's vector is still unit length and leans away from the shared word
    plain, weighted = emb.encode(["account loan"]), emb.encode(["account loan"], token_weights=w)
    assert np.linalg.norm(weighted[0]) == pytest.approx(1.0, abs=1e-5)
    loan = emb.encode(["loan"])[0]
    assert float(weighted[0] @ loan) > float(plain[0] @ loan)


@pytest.mark.skipif(static.unavailable_reason() is not None, reason="static embeddings unavailable")
def test_default_install_uses_hub_correction_and_topic_texts():
    agents = [agent("transfers", "Sending money, at home and abroad.",
                    examples=["send money to my brother", "how long does a transfer take"]),
              agent("loans", routing_description="Personal loans and mortgages."),
              agent("general", "General questions.")]
    router = Router(agents, semantic="static")
    assert router._semantic.hub_weight > 0
    assert router.describe()["semanticHubWeight"] == router._semantic.hub_weight
    d = router.route_sync("how much can I borrow for a mortgage")
    assert d.agent_id == "loans", d.reason
