"""The intelligent router: picks the agent for a message, in layers (rules, lexical BM25,
semantic embeddings, an LLM below a confidence threshold) with a fallback and stickiness.

Public API: `Router`, `RoutingDecision`. Heavy dependencies (sentence-transformers, torch,
numpy) are imported only inside `switchyard.routing.semantic` functions, on first use.
"""

from switchyard.routing.decision import AgentScore, RoutingDecision
from switchyard.routing.router import Router

__all__ = ["AgentScore", "Router", "RoutingDecision"]
