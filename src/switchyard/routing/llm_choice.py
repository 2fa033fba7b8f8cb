"""Layer 4, below the confidence threshold: ask an LLM to choose among the agents'
descriptions. The answer format is strict (one agent id, or NONE); anything else, an error or
a timeout, is reported as unusable and the router falls back instead of guessing.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Sequence

from switchyard.llm.base import Finish, LLMClient, TextDelta

NONE = "NONE"

SYSTEM = (
    "You route a user's message to the one agent best suited to answer it. "
    "Reply with exactly one line: the agent's id as listed, or NONE if no agent fits. "
    "Do not explain."
)


@dataclass
class Candidate:
    agent_id: str
    name: str
    description: str


@dataclass
class LLMChoice:
    agent_id: str | None  # None: the model said NONE, or its answer was unusable
    usable: bool
    answer: str  # the raw answer, trimmed, for the explanation
    error: str | None = None


def build_prompt(text: str, candidates: Sequence[Candidate]) -> str:
    lines = ["Agents:"]
    for c in candidates:
        desc = " ".join((c.description or c.name).split())
        lines.append(f"- {c.agent_id}: {desc}")
    lines += ["", "Message:", text.strip(), "", f"Answer with one agent id or {NONE}."]
    return "\n".join(lines)


def parse_choice(answer: str, agent_ids: Sequence[str]) -> tuple[str | None, bool]:
    """(agent id or None for NONE, usable). Accepts `billing`, `"billing".`, `**billing**`,
    or `{"agent": "billing"}`; anything else (prose, two ids, unknown ids) is unusable."""
    by_lower = {a.lower(): a for a in agent_ids}
    stripped = answer.strip()
    if stripped.startswith("{"):
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError:
            return None, False
        if not isinstance(obj, dict) or not ({"agent", "agentId"} & obj.keys()):
            return None, False
        value = obj.get("agent", obj.get("agentId"))
        if value is None:  # {"agent": null} is an explicit NONE
            return None, True
        if not isinstance(value, str):
            return None, False
        stripped = value
    lines = [ln for ln in stripped.splitlines() if ln.strip()]
    if len(lines) != 1:
        return None, False
    # Models decorate: quotes, backticks, bold, a final full stop, in any order.
    token = lines[0].strip().strip("`*\"'. ").lower()
    if token == NONE.lower():
        return None, True
    if token in by_lower:
        return by_lower[token], True
    return None, False


async def choose(llm: LLMClient, text: str, candidates: Sequence[Candidate], *,
                 timeout: float = 20.0, max_chars: int = 400) -> LLMChoice:
    """Ask once. Never raises for provider failures: they come back as unusable."""
    prompt = build_prompt(text, candidates)

    async def collect() -> str:
        out: list[str] = []
        async for delta in llm.stream([{"role": "user", "content": prompt}], [], system=SYSTEM):
            if isinstance(delta, TextDelta):
                out.append(delta.text)
                # A router answer is one short line; stop reading a model that rambles.
                if sum(map(len, out)) > max_chars:
                    break
            elif isinstance(delta, Finish):
                break
        return "".join(out)

    try:
        answer = await asyncio.wait_for(collect(), timeout)
    except asyncio.TimeoutError:
        return LLMChoice(None, False, "", f"no answer within {timeout:g}s")
    except Exception as exc:  # any provider failure: the router falls back, never crashes
        return LLMChoice(None, False, "", f"{type(exc).__name__}: {exc}")
    agent_id, usable = parse_choice(answer, [c.agent_id for c in candidates])
    return LLMChoice(agent_id, usable, answer.strip()[:200])
