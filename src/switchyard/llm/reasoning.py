"""`llm.reasoning` ({variant, budgetTokens}) mapped to each provider's own thinking knob.

The reference names presets `off|low|medium|high|max|xhigh` (older files say `enabled`); a
variant we do not know means "thinking on, the provider's default amount". `budgetTokens`, when
given, wins over the preset for providers that take a token budget.
"""

from __future__ import annotations

from typing import Any

# preset -> thinking budget in tokens, for budget-style providers (Anthropic, Gemini)
BUDGETS = {"low": 1024, "medium": 8192, "high": 24576, "max": 32768, "xhigh": 32768}
# preset -> OpenAI reasoning_effort
EFFORTS = {"off": "minimal", "low": "low", "medium": "medium", "high": "high", "max": "high", "xhigh": "high"}


def budget(reasoning: Any, default: int | None) -> int | None:
    """The token budget `reasoning` asks for: 0 when off, `default` for an unknown variant."""
    if reasoning.budgetTokens is not None:
        return reasoning.budgetTokens
    if reasoning.variant == "off":
        return 0
    return BUDGETS.get(reasoning.variant, default)


def openai_effort(reasoning: Any) -> str | None:
    return EFFORTS.get(reasoning.variant)
