"""The router: scores every agent for a message in layers, picks one, and explains why.

    rules     keywords and regex patterns                              (rules.py)
    lexical   BM25 over descriptions, keywords and examples, blended with a naive Bayes
              classifier trained on the examples          (lexical.py, naive_bayes.py)
    semantic  embedding kNN over the agents' texts, blended with a linear classifier on the
              same embeddings: all-MiniLM-L6-v2 run in numpy from weights shipped in the
              package (or through sentence-transformers with the [semantic] extra), else the
              static embeddings distilled from it  (semantic.py, minilm.py, static.py)
    llm       below the confidence threshold, an LLM picks among the descriptions
    fallback  takes what fits no agent

The layer scores (each 0..1) are combined by a weighted average; the top agent wins when its
combined score reaches the threshold. The fallback agent (a flag, `routing.fallback: true` in its
file, or an agent named default/general: profiles.resolve_fallback) is scored too, from its own
texts, plus a bonus: if it ranks first, no specialised agent fits and the message goes to the
fallback (or, in async `route`, to the LLM when configured). Every agent is read from what its
file says (agent_texts.py), so files without a `routing:` block are routed too. Within a session the current agent is sticky: another
agent must beat it by `sticky_margin` (and clear the threshold) to take over.
"""

from __future__ import annotations

import time

from switchyard.errors import ConfigError
from switchyard.routing.embedders import resolve_embedder, semantic_label
from switchyard.routing.decision import (COMBINED, FALLBACK, LEXICAL, LLM, RULES, SEMANTIC,
                                         STICKY, AgentScore, RoutingDecision)
from switchyard.routing.lexical import LexicalIndex, agent_docs, agent_text, tokenize
from switchyard.routing.agent_texts import semantic_texts
from switchyard.routing.naive_bayes import NaiveBayes
from switchyard.routing.profiles import PROFILES, resolve_fallback
from switchyard.routing.rules import compile_rules, rule_score

TYPE_CHECKING = False  # the hook's warm path (hook_cache.py) imports neither typing, pydantic nor asyncio
if TYPE_CHECKING:
    from typing import Any, Iterable, Literal, Sequence

    from switchyard.config.schema import AgentConfig
    from switchyard.llm.base import LLMClient
    from switchyard.routing import semantic as semantic_mod

SCORING_LAYERS = (RULES, LEXICAL, SEMANTIC)

STICKY_MARGIN = 0.15
# With an LLM, the async router also asks it when the first two agents are closer than this,
# not only below the threshold: on the tuning data most confident mistakes are close calls
# (bench/routing/llm_layer.py: with a perfect LLM, 0.10 sends ~22% of messages to it and
# lifts dev2 from 92.8% to 96.0% combined, 82.2% to 93.5% rules+lexical). 0 turns it off.
LLM_MARGIN = 0.10
# Naive Bayes inside the lexical layer (bench/routing/tune.py, round 3).
NB_SHARE = 0.35
NB_ALPHA = 0.1
NB_TEMPERATURE = 2.0


class Router:
    def __init__(self, agents: Sequence[AgentConfig], *, fallback: str | None = None,
                 semantic: Literal["auto", "static"] | bool = "auto", llm: LLMClient | None = None,
                 threshold: float | None = None, sticky_margin: float = STICKY_MARGIN,
                 layers: Iterable[str] | None = None, weights: dict[str, float] | None = None,
                 embedder: semantic_mod.Embedder | None = None, llm_timeout: float = 20.0,
                 llm_candidates: int = 12, sources: dict[str, str] | None = None,
                 fallback_bonus: float | None = None, llm_margin: float = LLM_MARGIN,
                 semantic_index: Any = None) -> None:
        """`agents`: the configs to route among. `fallback`: the id of the agent that takes
        what fits none. `semantic`: "auto" uses all-MiniLM-L6-v2 (numpy, shipped; else the
        [semantic] extra's), else the shipped static embeddings; True requires the full model;
        "static" forces the static embeddings; False turns the layer off (embedders.py).
        `llm`: consulted below `threshold` (async `route` only).
        `layers`: a subset of rules/lexical/semantic (the bench measures layers alone).
        `sources`: agentId -> file path, to name files in config errors.
        `fallback`: None finds one (profiles.resolve_fallback); `fallback_bonus`: added to the
        fallback's combined score (default: per profile); 0 scores it like any agent.
        `llm_margin`: with an LLM, also ask it when the first two agents score closer than
        this (0: only below the threshold). `semantic_index`: a prebuilt semantic index used
        as is (the hook's cache, hook_cache.py); its `kind` picks the profile.
        Raises ConfigError for duplicate ids, a bad routing pattern, an unknown fallback."""
        sources = sources or {}
        if not agents:
            raise ConfigError("the router needs at least one agent",
                              issues=[{"file": None, "path": "", "message": "no agents to route among"}])
        self.agents: dict[str, AgentConfig] = {}
        for agent in agents:
            if agent.agentId in self.agents:
                src = sources.get(agent.agentId)
                raise ConfigError(f"two agents share the agentId {agent.agentId!r}", file=src,
                                  issues=[{"file": src, "path": "agentId",
                                           "message": f"duplicate agentId {agent.agentId!r}"}])
            self.agents[agent.agentId] = agent
        fallback, self.fallback_source = resolve_fallback(self.agents.values(), fallback)
        if fallback is not None and fallback not in self.agents:
            raise ConfigError(
                f"fallback agent {fallback!r} is not among the agents ({', '.join(self.agents)})",
                issues=[{"file": None, "path": "fallback",
                         "message": f"unknown agent {fallback!r}; expected one of {sorted(self.agents)}"}])
        self.fallback = fallback
        self.llm = llm
        self.llm_timeout = llm_timeout
        self.llm_candidates = llm_candidates
        self.llm_margin = llm_margin
        self.sticky_margin = sticky_margin

        wanted = set(SCORING_LAYERS if layers is None else layers)
        unknown = wanted - set(SCORING_LAYERS)
        if unknown or not wanted:
            raise ValueError(f"layers must be a non-empty subset of {SCORING_LAYERS}, got {sorted(wanted)}")

        # Resolve the semantic layer: explicit embedder > the full model (numpy, shipped;
        # else the [semantic] extra's) > the static embeddings shipped in the package > off.
        self.semantic_note: str | None = None
        self.embedder_kind = "none"
        use_semantic = SEMANTIC in wanted and semantic is not False
        if use_semantic and semantic_index is not None:
            self.embedder_kind = semantic_index.kind
        elif use_semantic and embedder is None:
            embedder, self.embedder_kind, self.semantic_note = resolve_embedder(semantic)
            use_semantic = embedder is not None
        elif use_semantic:
            self.embedder_kind = getattr(embedder, "kind", "full")
        if not use_semantic:
            wanted.discard(SEMANTIC)
            if not wanted:
                raise ConfigError("only the semantic layer was requested and it is unavailable: "
                                  f"{self.semantic_note or 'turned off'}")
        self.layers = tuple(l for l in SCORING_LAYERS if l in wanted)
        profile = PROFILES[self.embedder_kind if SEMANTIC in self.layers else "none"]

        weights = {**profile.weights, **(weights or {})}
        self.weights = {l: weights.get(l, 0.0) for l in self.layers}
        self.threshold = profile.threshold if threshold is None else threshold
        # The "none" class: the fallback is scored like any agent (from its own texts) plus
        # a bonus; when it ranks first, the message fits no specialised agent.
        self.fallback_scored = self.fallback is not None
        if self.fallback_scored:
            if fallback_bonus is None:
                fallback_bonus = (profile.fallback_bonus_with_examples
                                  if self.agents[self.fallback].routing.examples  # type: ignore[index]
                                  else profile.fallback_bonus)
            self.fallback_bonus = fallback_bonus
        else:
            self.fallback_bonus = 0.0

        self._rules = {a.agentId: compile_rules(a, sources.get(a.agentId)) for a in agents}
        self._lexical = LexicalIndex({a.agentId: agent_text(a) for a in agents}) \
            if LEXICAL in self.layers else None
        # Classifiers trained now on the agents' own examples (see naive_bayes.py and
        # semantic.LinearHead): each layer's score blends retrieval with classification.
        self.lexical_nb_share = NB_SHARE if self._lexical is not None and len(agents) > 1 else 0.0
        self._nb = NaiveBayes({a.agentId: agent_docs(a) for a in agents}, tokenize,
                              alpha=NB_ALPHA, temperature=NB_TEMPERATURE) \
            if self.lexical_nb_share > 0 else None
        self._semantic = None
        if SEMANTIC in self.layers and semantic_index is not None:
            self._semantic = semantic_index
        elif SEMANTIC in self.layers:
            from switchyard.routing import semantic as semantic_mod

            texts = {a.agentId: semantic_texts(a) for a in agents}
            self._semantic = semantic_mod.SemanticIndex(  # type: ignore[arg-type]
                texts, embedder, head_share=profile.head_share, hub_weight=profile.hub_weight,
                low=getattr(embedder, "low", semantic_mod.LOW),
                high=getattr(embedder, "high", semantic_mod.HIGH))

        # Which embeddings the semantic layer uses, named in every explanation.
        self.semantic_label = (semantic_label(self._semantic.embedder)
                               if self._semantic is not None else None)

    # --- scoring -------------------------------------------------------------------------

    def rank(self, text: str) -> list[AgentScore]:
        """Every agent with its per-layer and combined scores, best first (ties keep the
        agents' configured order)."""
        per_layer: dict[str, dict[str, float]] = {}
        matched: dict[str, list[str]] = {}
        if RULES in self.layers:
            matched = {a: r.match(text) for a, r in self._rules.items()}
            per_layer[RULES] = {a: rule_score(h) for a, h in matched.items()}
        if self._lexical is not None:
            per_layer[LEXICAL] = self._lexical_score(text)
        if self._semantic is not None:
            per_layer[SEMANTIC] = self._semantic.score(text)
        total_weight = sum(self.weights.values()) or 1.0
        ranked = []
        for agent_id in self.agents:
            layers = {l: per_layer[l].get(agent_id, 0.0) for l in self.layers}
            combined = sum(self.weights[l] * s for l, s in layers.items()) / total_weight
            if agent_id == self.fallback:
                combined = min(1.0, combined + self.fallback_bonus)
            ranked.append(AgentScore(agent_id, combined, layers, matched.get(agent_id, [])))
        ranked.sort(key=lambda s: s.score, reverse=True)  # stable: config order breaks ties
        return ranked

    def _lexical_score(self, text: str) -> dict[str, float]:
        """BM25 coverage, blended with the naive Bayes posterior (`lexical_nb_share` of it)."""
        bm25 = self._lexical.score(text)  # type: ignore[union-attr]
        if self._nb is None:
            return bm25
        nb = self._nb.predict_proba(text)
        s = self.lexical_nb_share
        return {a: v for a in self.agents
                if (v := (1 - s) * bm25.get(a, 0.0) + s * nb.get(a, 0.0)) > 0}

    # --- deciding ------------------------------------------------------------------------

    def route_sync(self, text: str, *, current_agent: str | None = None) -> RoutingDecision:
        """Rules, lexical and semantic layers only (no LLM): for the CLI, evals and callers
        without an event loop. Below the threshold the fallback agent takes the message."""
        start = time.perf_counter()
        ranked = self.rank(text)
        decision = self._decide(ranked, current_agent)
        if decision is None:
            note = " (the LLM layer runs only in async route)" if self.llm is not None else ""
            decision = self._below_threshold(ranked, self._unsettled(ranked) + note)
        decision.latency_ms = (time.perf_counter() - start) * 1000
        return decision

    async def route(self, text: str, *, current_agent: str | None = None) -> RoutingDecision:
        """The full router. Embedding is CPU work, so with the semantic layer on it runs in
        a worker thread to keep the event loop free."""
        import asyncio

        start = time.perf_counter()
        if self._semantic is not None:
            ranked = await asyncio.to_thread(self.rank, text)
        else:
            ranked = self.rank(text)
        decision = self._decide(ranked, current_agent)
        if decision is None:
            if self.llm is not None:
                decision = await self._ask_llm(text, ranked)
            else:
                decision = self._below_threshold(ranked, self._unsettled(ranked))
        elif self.llm is not None and self._close_call(ranked, decision):
            decision = await self._ask_llm(text, ranked, close=decision)
        decision.latency_ms = (time.perf_counter() - start) * 1000
        return decision

    def _decide(self, ranked: list[AgentScore], current: str | None) -> RoutingDecision | None:
        """A decision when the scores settle it (including stickiness); None when the top
        score is below the threshold and no session agent is there to keep."""
        top = ranked[0]
        if current is not None and current in self.agents:
            cur = next(s for s in ranked if s.agent_id == current)
            if top.agent_id == current:
                return RoutingDecision(current, cur.score, STICKY, (
                    f"stayed with {current}, the session's agent, which also ranks first "
                    f"({self._describe(cur)})"), ranked, sticky=True)
            margin = top.score - cur.score
            if top.score >= self.threshold and margin >= self.sticky_margin:
                return RoutingDecision(top.agent_id, top.score, self._layer_of(top), (
                    f"switched from {current} to {top.agent_id}: it fits clearly better "
                    f"({top.score:.2f} vs {cur.score:.2f}, margin {margin:.2f} >= "
                    f"{self.sticky_margin:.2f}; {self._describe(top)})"), ranked,
                    fallback=top.agent_id == self.fallback)
            why = (f"{top.agent_id} scores {top.score:.2f} vs {cur.score:.2f}, margin "
                   f"{margin:.2f} < {self.sticky_margin:.2f}" if top.score >= self.threshold else
                   f"no agent clearly fits (best: {top.agent_id} {top.score:.2f} < threshold "
                   f"{self.threshold:.2f})")
            return RoutingDecision(current, cur.score, STICKY,
                                   f"stayed with {current}, the session's agent: {why}",
                                   ranked, sticky=True)
        if top.agent_id == self.fallback and self.fallback_scored:
            return None  # "fits none" ranks first: unsettled, like a score below threshold
        if top.score >= self.threshold:
            runner = f"; next: {ranked[1].agent_id} {ranked[1].score:.2f}" if len(ranked) > 1 else ""
            prefix = (f"ignored unknown session agent {current!r}; " if current is not None else "")
            return RoutingDecision(top.agent_id, top.score, self._layer_of(top), (
                f"{prefix}{top.agent_id} ranks first with {top.score:.2f} >= threshold "
                f"{self.threshold:.2f} ({self._describe(top)}){runner}"), ranked)
        return None

    def _close_call(self, ranked: list[AgentScore], decision: RoutingDecision) -> bool:
        """The scores chose, but the first two are too close to trust them (a session's
        sticky choice is left alone: stickiness already weighs closeness)."""
        return (not decision.sticky and self.llm_margin > 0 and len(ranked) > 1
                and ranked[0].score - ranked[1].score < self.llm_margin)

    def _best_specialised(self, ranked: list[AgentScore]) -> AgentScore:
        return next((s for s in ranked if s.agent_id != self.fallback), ranked[0])

    def _unsettled(self, ranked: list[AgentScore]) -> str:
        """Why the scores did not settle it (no session agent involved)."""
        if ranked[0].agent_id == self.fallback and self.fallback_scored:
            fb = ranked[0]
            return (f"the message fits no specialised agent: the fallback {self.fallback} ranks "
                    f"first ({fb.score:.2f} incl. none-bonus "
                    f"{self.fallback_bonus:.2f})")
        return "no agent reached the confidence threshold"

    def _below_threshold(self, ranked: list[AgentScore], why: str) -> RoutingDecision:
        top = self._best_specialised(ranked)
        best = f"best: {top.agent_id} {top.score:.2f}" + (
            f" < {self.threshold:.2f}" if top.score < self.threshold else "")
        if self.fallback is not None:
            fb = next(s for s in ranked if s.agent_id == self.fallback)
            return RoutingDecision(self.fallback, fb.score, FALLBACK,
                                   f"{why} ({best}); the fallback agent {self.fallback} takes it",
                                   ranked, fallback=True)
        return RoutingDecision(top.agent_id, top.score, self._layer_of(top),
                               f"{why} ({best}) and no fallback agent is configured; "
                               f"chose the best-ranked agent {top.agent_id}", ranked)

    async def _ask_llm(self, text: str, ranked: list[AgentScore], *,
                       close: RoutingDecision | None = None) -> RoutingDecision:
        """The LLM's choice among the specialised agents. `close`: the scores' own decision
        in a close call, kept when the LLM gives no usable answer."""
        from switchyard.routing import llm_choice

        best = self._best_specialised(ranked)
        pool = [s for s in ranked if s.agent_id != self.fallback][: self.llm_candidates]
        candidates = [llm_choice.Candidate(s.agent_id, self.agents[s.agent_id].name,
                                           self._llm_description(self.agents[s.agent_id]))
                      for s in pool]
        choice = await llm_choice.choose(self.llm, text, candidates,  # type: ignore[arg-type]
                                         timeout=self.llm_timeout)
        model = f"{getattr(self.llm, 'provider', 'llm')}/{getattr(self.llm, 'model', '?')}"
        if close is not None:
            first, second = ranked[0], ranked[1]
            why = (f"{first.agent_id} {first.score:.2f} and {second.agent_id} {second.score:.2f} "
                   f"are too close to call (margin < {self.llm_margin:.2f})")
        else:
            why = (f"{self._unsettled(ranked)} (best: {best.agent_id} {best.score:.2f}, "
                   f"threshold {self.threshold:.2f})")
        if choice.usable and choice.agent_id is not None:
            chosen = next(s for s in ranked if s.agent_id == choice.agent_id)
            return RoutingDecision(choice.agent_id, chosen.score, LLM, (
                f"{why}, so the LLM ({model}) chose {choice.agent_id} from the agents' "
                f"descriptions"), ranked)
        if choice.usable:
            return self._below_threshold(ranked, f"{why}; the LLM ({model}) said no agent fits")
        detail = choice.error or f"unusable answer {choice.answer[:80]!r}"
        if close is not None:
            close.reason += f"; {why} but the LLM ({model}) gave no usable choice ({detail}), so the scores decide"
            return close
        return self._below_threshold(ranked, f"{why} and the LLM ({model}) gave no usable choice: {detail}")

    # --- explaining ----------------------------------------------------------------------

    def _layer_of(self, score: AgentScore) -> str:
        return self.layers[0] if len(self.layers) == 1 else COMBINED

    def _describe(self, score: AgentScore) -> str:
        parts = []
        if score.matched:
            # Keywords quoted, patterns shown as /regex/ (repr would double the backslashes).
            parts.append("matched " + ", ".join(m if m.startswith("/") else f"'{m}'"
                                                for m in score.matched[:5]))
        for layer in self.layers:
            if layer != RULES or not score.matched:
                parts.append(f"{layer} {score.layers.get(layer, 0.0):.2f}"
                             + (f" ({self.semantic_label})" if layer == SEMANTIC else ""))
        return "; ".join(parts)

    @staticmethod
    def _llm_description(agent: AgentConfig) -> str:
        r = agent.routing
        return r.description or agent.description or agent.name

    def describe(self) -> dict[str, object]:
        """The router's configuration, for logs and a status endpoint."""
        return {"agents": list(self.agents), "fallback": self.fallback,
                "fallbackSource": self.fallback_source, "layers": list(self.layers),
                "embedder": (getattr(self._semantic.embedder, "name", "custom")
                             if self._semantic is not None else None),
                "weights": self.weights, "threshold": self.threshold,
                "fallbackBonus": self.fallback_bonus, "lexicalNbShare": self.lexical_nb_share,
                "semanticHeadShare": self._semantic.head_share if self._semantic is not None else 0.0,
                "semanticHubWeight": self._semantic.hub_weight if self._semantic is not None else 0.0,
                "stickyMargin": self.sticky_margin, "llm": self.llm is not None,
                "semanticNote": self.semantic_note}
