"""What the router decided, and why: the shape POST /api/route returns."""

from __future__ import annotations

TYPE_CHECKING = False  # neither typing nor dataclasses: `route --hook` imports this per prompt
if TYPE_CHECKING:
    from typing import Any

# Layer names, as they appear in `RoutingDecision.layer` and in each ranked entry's scores.
RULES, LEXICAL, SEMANTIC = "rules", "lexical", "semantic"
COMBINED, LLM, FALLBACK, STICKY = "combined", "llm", "fallback", "sticky"


class _Record:
    """A dataclass's equality and repr over `__slots__`. Plain classes rather than
    @dataclass: importing dataclasses (inspect, ast, dis, tokenize) costs ~14 ms of CPU, a
    tenth of the prompt hook's budget (routing/hook.py)."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]  # mutable, as a dataclass with eq=True

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self.__slots__)

    def __repr__(self) -> str:
        fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.__slots__)
        return f"{type(self).__name__}({fields})"


class AgentScore(_Record):
    """`score`: the combined score the ranking uses, 0..1; `layers`: per-layer score, 0..1;
    `matched`: keywords / patterns that hit."""

    __slots__ = ("agent_id", "score", "layers", "matched")

    def __init__(self, agent_id: str, score: float, layers: dict[str, float] | None = None,
                 matched: list[str] | None = None) -> None:
        self.agent_id, self.score = agent_id, score
        self.layers = {} if layers is None else layers
        self.matched = [] if matched is None else matched

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"agentId": self.agent_id, "score": round(self.score, 4),
                               "scores": {k: round(v, 4) for k, v in self.layers.items()}}
        if self.matched:
            out["matched"] = list(self.matched)
        return out


class RoutingDecision(_Record):
    """`layer`: which layer made the choice: rules | lexical | semantic | combined | llm |
    fallback | sticky. `sticky`: the session's current agent was kept. `fallback`: the
    fallback agent took a message that fits no agent."""

    __slots__ = ("agent_id", "confidence", "layer", "reason", "ranked", "sticky", "fallback",
                 "latency_ms")

    def __init__(self, agent_id: str, confidence: float, layer: str, reason: str,
                 ranked: list[AgentScore] | None = None, sticky: bool = False,
                 fallback: bool = False, latency_ms: float = 0.0) -> None:
        self.agent_id, self.confidence, self.layer, self.reason = agent_id, confidence, layer, reason
        self.ranked = [] if ranked is None else ranked
        self.sticky, self.fallback, self.latency_ms = sticky, fallback, latency_ms

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
