"""Evaluate the router on a labelled JSONL file: one `{"text": ..., "agent": ...}` per line
(`agent` may be the fallback's id; extra fields such as `kind` are kept for breakdowns).
Reports top-1 accuracy, a confusion table and decision latency."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from switchyard.errors import UserError


class EvalFileError(UserError):
    code = "eval_file_invalid"


@dataclass
class EvalCase:
    line: int
    text: str
    agent: str
    kind: str | None = None


@dataclass
class EvalResult:
    cases: list[EvalCase]
    predicted: list[str]
    latencies_ms: list[float]
    layers: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.cases)

    @property
    def correct(self) -> int:
        return sum(c.agent == p for c, p in zip(self.cases, self.predicted))

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]

    def confusion(self) -> Counter[tuple[str, str]]:
        return Counter((c.agent, p) for c, p in zip(self.cases, self.predicted))

    def accuracy_by(self, key: str) -> dict[str, tuple[int, int]]:
        """(correct, total) per expected agent (`key="agent"`) or per `kind`."""
        out: dict[str, list[int]] = {}
        for c, p in zip(self.cases, self.predicted):
            k = getattr(c, key) or "-"
            out.setdefault(k, [0, 0])
            out[k][0] += c.agent == p
            out[k][1] += 1
        return {k: (v[0], v[1]) for k, v in out.items()}

    def to_dict(self) -> dict[str, object]:
        return {"total": self.total, "correct": self.correct, "accuracy": round(self.accuracy, 4),
                "latencyMs": {"p50": round(self.percentile(50), 3), "p95": round(self.percentile(95), 3),
                              "max": round(max(self.latencies_ms, default=0.0), 3)}}


def load_cases(path: str | Path, known_agents: Iterable[str] | None = None) -> list[EvalCase]:
    """Parse the file; every problem names the file and line. Blank lines are skipped."""
    path = Path(path)
    known = set(known_agents) if known_agents is not None else None
    try:
        lines = path.read_text("utf-8").splitlines()
    except FileNotFoundError:
        raise EvalFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"{path}: cannot read: {exc}") from None
    cases = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        where = f"{path} line {number}"
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise EvalFileError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise EvalFileError(f"{where}: expected a JSON object with \"text\" and \"agent\"")
        text, agent = obj.get("text"), obj.get("agent")
        if not isinstance(text, str) or not text.strip():
            raise EvalFileError(f"{where}: \"text\" must be a non-empty string")
        if not isinstance(agent, str) or not agent:
            raise EvalFileError(f"{where}: \"agent\" must be a non-empty string")
        if known is not None and agent not in known:
            raise EvalFileError(f"{where}: unknown agent {agent!r}; known agents: {', '.join(sorted(known))}")
        kind = obj.get("kind")
        cases.append(EvalCase(number, text, agent, kind if isinstance(kind, str) else None))
    if not cases:
        raise EvalFileError(f"{path}: no labelled messages")
    return cases


def evaluate(router, cases: list[EvalCase], *, warmup: bool = True) -> EvalResult:
    """Route every case with `route_sync` (rules, lexical, semantic; no LLM, no session).
    One warm-up call first so one-time costs (first embedding, caches) don't count as a
    decision's latency."""
    if warmup:
        router.route_sync("warm-up message")
    predicted, latencies, layers = [], [], []
    for case in cases:
        decision = router.route_sync(case.text)
        predicted.append(decision.agent_id)
        latencies.append(decision.latency_ms)
        layers.append(decision.layer)
    return EvalResult(cases, predicted, latencies, layers)


def format_report(result: EvalResult, *, title: str | None = None, show_errors: int = 15) -> str:
    out = []
    if title:
        out.append(title)
    out.append(f"top-1 accuracy: {result.correct}/{result.total} = {result.accuracy:.1%}")
    out.append(f"decision latency: p50 {result.percentile(50):.2f} ms, p95 "
               f"{result.percentile(95):.2f} ms, max {max(result.latencies_ms, default=0):.2f} ms")
    kinds = result.accuracy_by("kind")
    if len(kinds) > 1 or "-" not in kinds:
        out.append("by kind: " + ", ".join(f"{k} {c}/{t} ({c / t:.0%})" for k, (c, t) in sorted(kinds.items())))
    out.append("decided by: " + ", ".join(f"{k} {n}" for k, n in Counter(result.layers).most_common()))

    labels = sorted({c.agent for c in result.cases} | set(result.predicted))
    conf = result.confusion()
    width = max(len(l) for l in labels)
    out.append("")
    out.append("confusion (rows: expected, columns: predicted, by number):")
    header = " " * (width + 5) + " ".join(f"{i:>3}" for i in range(1, len(labels) + 1)) + "   acc"
    out.append(header)
    by_agent = result.accuracy_by("agent")
    for i, exp in enumerate(labels, start=1):
        cells = " ".join(f"{conf.get((exp, pred), 0) or '.':>3}" for pred in labels)
        c, t = by_agent.get(exp, (0, 0))
        acc = f"{c / t:6.0%}" if t else "     -"
        out.append(f"{i:>2}. {exp:<{width}} {cells}{acc}")

    errors = [(c, p) for c, p in zip(result.cases, result.predicted) if c.agent != p]
    if errors and show_errors:
        out.append("")
        out.append(f"misrouted ({len(errors)}; showing {min(len(errors), show_errors)}):")
        for c, p in errors[:show_errors]:
            out.append(f"  line {c.line}: expected {c.agent}, got {p}: {c.text[:70]}")
    return "\n".join(out)
