"""What the router decided, and why: the shape POST /api/route returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Layer names, as they appear in `RoutingDecision.layer` and in each ranked entry's scores.
RULES, LEXICAL, SEMANTIC = "rules", "lexical", "semantic"
COMBINED, LLM, FALLBACK, STICKY = "combined", "llm", "fallback", "sticky"


@dataclass
class AgentScore:
    agent_id: str
    score: float  # the combined score the ranking uses, 0..1
    layers: dict[str, float] = field(default_factory=dict)  # per-layer score, 0..1
    matched: list[str] = field(default_factory=list)  # keywords / patterns that hit

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"agentId": self.agent_id, "score": round(self.score, 4),
                               "scores": {k: round(v, 4) for k, v in self.layers.items()}}
        if self.matched:
            out["matched"] = list(self.matched)
        return out


@dataclass
class RoutingDecision:
    agent_id: str
    confidence: float
    # Which layer made the choice: rules | lexical | semantic | combined | llm | fallback | sticky
    layer: str
    reason: str
    ranked: list[AgentScore] = field(default_factory=list)
    sticky: bool = False  # the session's current agent was kept
    fallback: bool = False  # the fallback agent took a message that fits no agent
    latency_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "agentId": self.agent_id,
            "confidence": round(self.confidence, 4),
            "layer": self.layer,
            "reason": self.reason,
            "sticky": self.sticky,
            "fallback": self.fallback,
            "latencyMs": round(self.latency_ms, 3),
            "ranked": [entry.to_dict() for entry in self.ranked],
        }
