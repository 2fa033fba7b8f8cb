"""What a provider/model can do, for GET /api/llm/capabilities: the file types it takes and how
`llm.reasoning` maps onto it (the paradigm Switchyard sends, see reasoning.py)."""

from __future__ import annotations

import re
from typing import Any

from .catalog import _MODELS
from .presets import PRESETS
from .reasoning import BUDGETS, EFFORTS

_OPENAI_REASONING = re.compile(r"^(o[134]|gpt-5)")
_CLAUDE_THINKING = re.compile(r"claude-(3-7|(sonnet|opus|haiku)-4|4)")
_GEMINI_THINKING = re.compile(r"^gemini-(2\.5|3)")
_LABELS = {"off": "Off", "low": "Low", "medium": "Medium", "high": "High", "max": "Max", "xhigh": "Extra high"}


def _paradigm(provider: str, model: str) -> str:
    """`effort` (a named level), `budget` (a token budget) or `none`, as Switchyard sends it."""
    if provider == "openai" and _OPENAI_REASONING.match(model):
        return "effort"
    if provider in ("anthropic", "bedrock") and _CLAUDE_THINKING.search(model):
        return "budget"
    if provider in ("google", "vertex") and _GEMINI_THINKING.match(model) and "image" not in model:
        return "budget"
    return "none"


def capabilities(provider: str, model: str) -> dict[str, Any]:
    """Raises KeyError for an unknown provider."""
    PRESETS[provider]  # noqa: B018 - the KeyError is the answer for an unknown provider
    models = {name: types for name, _, _, types in _MODELS.get(provider, [])}
    if model in models:
        file_types = list(models[model])
    else:
        file_types = sorted({t for types in models.values() for t in types})
    paradigm = _paradigm(provider, model)
    variants = [] if paradigm == "none" else (list(EFFORTS) if paradigm == "effort" else ["off", *BUDGETS])
    reasoning: dict[str, Any] = {
        "capable": paradigm != "none", "paradigm": paradigm,
        "variants": [{"id": v, "label": _LABELS[v]} for v in variants],
        "supportedVariants": variants, "supportsBudgetTokens": paradigm == "budget"}
    if variants:
        reasoning["defaultVariant"] = "medium"
    return {"provider": provider, "model": model, "supportedFileTypes": file_types, "reasoning": reasoning}
