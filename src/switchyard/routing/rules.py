"""Layer 1, exact rules: an agent's `routing.keywords` (whole words or phrases, any case) and
`routing.patterns` (regular expressions, as written: add `(?i)` for case-insensitivity).

Rules are strong evidence, not a verdict: near-miss messages ("the invoice for our legal
department") hit another agent's keyword, so the rule score is combined with the other layers.
"""

from __future__ import annotations

import re
from collections import namedtuple

from switchyard.errors import ConfigError

TYPE_CHECKING = False  # neither pydantic nor typing at run time: the hook's warm path
if TYPE_CHECKING:
    from switchyard.config.schema import AgentConfig

# A pattern hit counts as two keyword hits: a pattern is written to be specific.
PATTERN_WEIGHT = 2


class AgentRules(namedtuple("AgentRules", ["agent_id", "keywords", "patterns"])):
    """`keywords`: one regex for all keywords (or None); `patterns`: (source, regex) pairs."""

    __slots__ = ()

    def match(self, text: str) -> list[str]:
        """The distinct keywords and patterns that hit, patterns as `/regex/`."""
        hits: list[str] = []
        if self.keywords is not None:
            for m in self.keywords.finditer(text):
                word = " ".join(m.group(0).lower().split())
                if word not in hits:
                    hits.append(word)
        for source, pattern in self.patterns:
            if pattern.search(text):
                hits.append(f"/{source}/")
        return hits


def rule_score(hits: list[str]) -> float:
    """1 - 0.5^evidence: one keyword 0.5, two 0.75, a pattern 0.75, saturating at 1."""
    evidence = sum(PATTERN_WEIGHT if h.startswith("/") else 1 for h in hits)
    return 1.0 - 0.5 ** evidence if evidence else 0.0


def _keyword_regex(words: list[str]) -> re.Pattern[str] | None:
    parts = []
    for word in words:
        tokens = word.split()
        if not tokens:
            continue
        # Any run of whitespace between a phrase's words; lookarounds instead of \b so that
        # keywords such as "ci/cd" or "a/b test" that start or end in punctuation still match.
        parts.append(r"\s+".join(re.escape(t) for t in tokens))
    if not parts:
        return None
    # Longest first so that "credit card payment" wins over "credit card" in the alternation.
    parts.sort(key=len, reverse=True)
    return re.compile(r"(?<![\w])(?:" + "|".join(parts) + r")(?![\w])", re.IGNORECASE)


def compile_rules(agent: AgentConfig, source: str | None = None) -> AgentRules:
    """Compile one agent's rules. A bad regex raises ConfigError naming agent and field."""
    patterns = []
    issues = []
    for i, pattern in enumerate(agent.routing.patterns):
        try:
            patterns.append((pattern, re.compile(pattern)))
        except re.error as exc:
            issues.append({"file": source, "path": f"routing.patterns[{i}]",
                           "message": f"agent {agent.agentId!r}: invalid regular expression "
                                      f"{pattern!r}: {exc}"})
    if issues:
        raise ConfigError(f"agent {agent.agentId!r}: invalid routing.patterns "
                          f"({issues[0]['message'].split(': ', 1)[1]})",
                          issues=issues, file=source)
    return AgentRules(agent.agentId, _keyword_regex(agent.routing.keywords), patterns)
