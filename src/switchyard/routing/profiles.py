"""The router's constants per semantic layer ("full": the [semantic] model; "static": the
distilled embeddings of the default install; "none": rules and lexical only), and how the
fallback agent is found.

Fitted on the tuning data only: bench/routing/dev*.jsonl (the project's own rich agents) and
the two tuning sets of bench/routing/sets (sparse-shop, zero-home), never on the held-out
sets (see bench/routing/RESULTS.md, round 5). Each is a weighted average of the layers' 0..1
scores; the fallback ("fits none") agent gets `fallback_bonus` on top, and wins when it ranks
first.
"""

from __future__ import annotations

from collections import namedtuple

from switchyard.routing.decision import LEXICAL, RULES, SEMANTIC

TYPE_CHECKING = False  # typing is not imported at run time (routing/decision.py says why)
if TYPE_CHECKING:
    from typing import Iterable

# An agent with one of these ids (or names) is the default for messages that fit no other
# agent, when no fallback is given: the conventional names, so that a set of agent files
# works without a flag. Never "the first agent": that was an alphabetical accident.
DEFAULT_AGENT_NAMES = ("default", "general")


# `weights`: per layer; `threshold`: the confidence a choice needs; `fallback_bonus`: added to
# the fallback's score; `fallback_bonus_with_examples`: the same when the fallback has routing
# examples of its own ("fits none" messages): its score then says more, and it may get a larger
# bonus without taking clear messages; `head_share`: the linear head's share of the semantic
# score; `hub_weight`: semantic.SemanticIndex's hub correction (0: off). A named tuple
# (immutable) rather than a frozen dataclass: see routing/decision.py.
Profile = namedtuple("Profile", ["weights", "threshold", "fallback_bonus",
                                 "fallback_bonus_with_examples", "head_share", "hub_weight"],
                     defaults=(0.2, 0.2, 0.2, 0.35, 0.0))


# Round 6 (bench/routing/tune_sets.py on five tuning sets: sparse-shop, zero-home, sparse-travel,
# sparse-bank, rich dev+dev2): with the descriptions' topics as texts and hub correction
# (`hub_weight` 0.5: flat between 0.25 and 0.75 in leave-one-set-out accuracy, worse at 1.0),
# both embedders want the semantic layer at 0.70 and a threshold (static 0.15, full 0.10).
# The bonuses of round 5 still hold (the one for a fallback with examples is within 0.5 points
# of the best on the rich set, and kept).
# bench/routing/tune_sets.py, round 5: the best mean of the three tuning sets' accuracies on a
# grid (weights in steps of 0.1, bonus and threshold as listed there); where several rows tie,
# the one with a small rules weight (so that explicit patterns such as INV-12345 still count)
# and a threshold inside the flat region.
# - No linear head (head_share 0) with either embedder: trained on a sparse agent file's two or
#   three texts per agent it overfits (static: sparse-shop 63% with share 0.35, 74% without;
#   full: mean 87.0% -> 87.8%). It stays available for callers with many examples.
# - The fallback is scored from its own texts. With only a description it gets a small
#   bonus (0.05-0.08; one bonus of 0.15-0.20 for all handed it clear messages of the sparse
#   sets); with "fits none" examples of its own (the rich set) 0.15-0.20, as in round 3
#   (a single bonus cost the rich held-out set test3 5 points: 90.9 -> 85.5% with the full model).
# - With the full model and a scored fallback, the threshold adds nothing on the tuning sets
#   (the fallback ranking first is the "fits none" decision): 0.
PROFILES = {
    "full": Profile({RULES: 0.02, LEXICAL: 0.28, SEMANTIC: 0.70}, threshold=0.10,
                    fallback_bonus=0.05, fallback_bonus_with_examples=0.15, head_share=0.0,
                    hub_weight=0.5),
    "static": Profile({RULES: 0.02, LEXICAL: 0.28, SEMANTIC: 0.70}, threshold=0.15,
                      fallback_bonus=0.08, fallback_bonus_with_examples=0.20, head_share=0.0,
                      hub_weight=0.5),
    "none": Profile({RULES: 0.05, LEXICAL: 0.95}, threshold=0.10, fallback_bonus=0.02,
                    fallback_bonus_with_examples=0.20, head_share=0.0),
}


def resolve_fallback(agents: Iterable, fallback: str | None) -> tuple[str | None, str]:
    """The fallback agent's id and where it came from: the caller's flag, an agent file that
    says `routing: {fallback: true}`, or an agent named default/general; else none."""
    agents = list(agents)
    if fallback is not None:
        return fallback, "flag"
    marked = [a.agentId for a in agents if getattr(a.routing, "fallback", False)]
    if marked:
        return marked[0], "agent file (routing.fallback: true)"
    for wanted in DEFAULT_AGENT_NAMES:
        for a in agents:
            if a.agentId.lower() == wanted or (a.name or "").strip().lower() == wanted:
                return a.agentId, f"agent named {wanted!r}"
    return None, "none"
