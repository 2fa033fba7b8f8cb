"""The intelligent router: picks the agent for a message, in layers (rules, lexical BM25,
semantic embeddings, an LLM below a confidence threshold) with a fallback and stickiness.

Public API: `Router`, `RoutingDecision`. Heavy dependencies (sentence-transformers, torch,
numpy) are imported only inside `switchyard.routing.semantic` functions, on first use.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported: `route --hook` imports this package per prompt
if TYPE_CHECKING:
    from typing import Any

__all__ = ["AgentScore", "Router", "RoutingDecision"]


def __getattr__(name: str) -> Any:
    # Lazy (PEP 562): `switchyard route --hook --server` imports switchyard.routing.hook on
    # every prompt and must not pay for the router (the agent-file schema, numpy) it does not use.
    if name == "Router":
        from switchyard.routing.router import Router
        return Router
    if name in ("AgentScore", "RoutingDecision"):
        from switchyard.routing import decision
        return getattr(decision, name)
    raise AttributeError(f"module 'switchyard.routing' has no attribute {name!r}")
