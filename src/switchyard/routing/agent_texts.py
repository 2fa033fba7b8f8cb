"""What an agent file says about what the agent is for, as texts the layers index.

Most agent files (all of the reference's) have no `routing:` block: only an
`agentCard.description`, maybe `agentCard.skills`, and a `systemPrompt`. The router must work
on those, so every layer reads the same texts, from the most to the least deliberate:
`routing.examples`, `routing.description`, `agentCard.description`, each `agentCard.skills`
entry (name, description, tags, examples), the system prompt split into sentences (static
contributors' content; file and dynamic contributors are not read: they are loaded at run
time and may be large), and the MCP server names (a server called `github` says something).

The semantic layer also gets each description's topics as texts of their own
(`description_phrases`): a one-line description is often a list ("Payments, refunds and
invoices."), and an embedding averaged over the whole list matches a message about one of its
topics only in part (bench/routing/RESULTS.md, round 6).
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing is not imported at run time: `route --hook` loads this per prompt
if TYPE_CHECKING:
    from typing import Any

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
# Where a description lists topics: commas, semicolons, colons, slashes, brackets, "and", "or",
# a spaced dash.
_LIST_SEPARATOR = re.compile(r"\s*(?:[,;:/()]|\band\b|\bor\b|\s-\s)\s*", re.IGNORECASE)
MIN_PHRASE = 3
# Sentences of a system prompt that say how to behave, not what about ("Be concise.", "You
# are helpful."), are short: below this many characters they carry little routing signal.
MIN_PROMPT_SENTENCE = 12


def prompt_text(agent: Any) -> str:
    prompt = agent.systemPrompt
    if isinstance(prompt, str):
        return prompt
    parts = [c.content for c in getattr(prompt, "contributors", [])
             if getattr(c, "type", None) == "static" and getattr(c, "enabled", True)]
    return "\n".join(parts)


def prompt_sentences(agent: Any) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(prompt_text(agent))
            if len(s.strip()) >= MIN_PROMPT_SENTENCE]


def skill_texts(agent: Any) -> list[str]:
    """`agentCard.skills` (A2A AgentSkill shape: id, name, description, tags, examples)."""
    card = agent.agentCard
    skills = (card.model_extra or {}).get("skills") if card is not None else None
    out: list[str] = []
    for skill in skills if isinstance(skills, list) else []:
        if not isinstance(skill, dict):
            continue
        head = " ".join(str(skill[k]) for k in ("name", "description") if skill.get(k))
        if head:
            out.append(head)
        if isinstance(skill.get("tags"), list) and skill["tags"]:
            out.append(" ".join(str(t) for t in skill["tags"]))
        out += [str(e) for e in skill.get("examples") or [] if isinstance(e, str) and e.strip()]
    return out


def describing_texts(agent: Any) -> list[str]:
    """Texts that describe the agent (not example messages), deduplicated, in order."""
    r = agent.routing
    card = agent.agentCard.description if agent.agentCard else None
    texts = [t for t in (r.description, card) if t and t.strip()]
    texts += skill_texts(agent)
    texts += prompt_sentences(agent)
    texts += [name.replace("-", " ").replace("_", " ") for name in agent.mcpServers]
    return list(dict.fromkeys(texts))


def routing_texts(agent: Any) -> list[str]:
    """Every text the semantic layer embeds for an agent: its examples, then what describes it."""
    examples = [t for t in agent.routing.examples if t and t.strip()]
    return list(dict.fromkeys(examples + describing_texts(agent)))


def description_phrases(agent: Any) -> list[str]:
    """The topics of `routing.description` and `agentCard.description` when either lists
    several: "Payments, refunds and invoices." -> ["Payments", "refunds", "invoices"]."""
    card = agent.agentCard.description if agent.agentCard else None
    out: list[str] = []
    for text in (agent.routing.description, card):
        parts = [p.strip(" .!?") for p in _LIST_SEPARATOR.split(text or "")]
        parts = [p for p in parts if len(p) >= MIN_PHRASE]
        if len(parts) > 1:
            out += parts
    return out


def semantic_texts(agent: Any) -> list[str]:
    """What the semantic layer embeds: `routing_texts` plus the descriptions' topics."""
    return list(dict.fromkeys(routing_texts(agent) + description_phrases(agent)))
