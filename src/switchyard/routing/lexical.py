"""Layer 2, lexical similarity: Okapi BM25 over each agent's routing text (description,
keywords, examples, name). Small and dependency-free; an index over 50 agents scores a
message in well under a millisecond.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+(?:[/'][a-z0-9]+)*")

# Function words carry no routing signal; removing them also keeps query coverage honest.
STOPWORDS = frozenset("""
a about above after again all also am an and any are as at be because been before being
below between both but by can could did do does doing don down during each few for from
further get got had has have having he her here hers him his how i if in into is it its
itself just let me more most my myself no nor not now of off on once only or other our ours
out over own please same she should so some such than that the their them then there these
they this those through to too under until up very was we were what when where which while
who whom why will with would you your yours yourself i'm it's what's can't don't won't
i'd i've we're we've they're there's let's hi hello hey thanks thank need want like
""".split()) | frozenset(
    # Conversational verbs and fillers that every agent's examples use ("how do I make",
    # "give me the best way"): they say nothing about the topic but would let any chatty
    # message reach the threshold.
    """help make give tell explain use best good way thing things new idea ideas know find
    show get going go really much many also ever still sure okay ok something anything
    someone somebody one two three please today now always""".split())


@lru_cache(maxsize=50_000)  # pure, and agents' texts repeat their words: indexing runs per hook call
def stem(word: str) -> str:
    """A deliberately tiny suffix stripper: enough to meet 'refunds'/'refund',
    'charged'/'charge', 'running'/'run' half way, without a stemming dependency."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith(("ss", "us", "is")):  # 'access', 'antivirus', 'analysis'
        return word
    for suffix, repl, min_len in (("ies", "i", 5), ("ied", "i", 5), ("ing", "", 6),
                                  ("ed", "", 5), ("s", "", 4)):
        if word.endswith(suffix) and len(word) >= min_len:
            word = word[: len(word) - len(suffix)] + repl
            # 'running' -> 'runn' -> 'run'; 'stopped' -> 'stopp' -> 'stop'
            if suffix in ("ing", "ed") and len(word) > 3 and word[-1] == word[-2] \
                    and word[-1] not in "lsz":
                word = word[:-1]
            break
    # Drop a final 'e' so that 'charge', 'charged', 'charges' and 'charging' all meet at
    # 'charg', and 'boxes' / 'box' at 'box' (after 's' is gone, 'boxe' -> 'box').
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    elif len(word) > 3 and word.endswith("y"):  # 'copy' / 'copied', 'cookie' / 'cookies'
        word = word[:-1] + "i"
    return word


def tokenize(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


class BM25:
    """Okapi BM25 with the Lucene idf (always positive). `k1` saturates term frequency,
    `b` normalises for document length."""

    def __init__(self, docs: dict[str, list[str]], *, k1: float = 2.0, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.ids = list(docs)
        self.n = len(docs)
        self.doc_len = {i: len(toks) for i, toks in docs.items()}
        self.avgdl = (sum(self.doc_len.values()) / self.n) if self.n else 0.0
        self.postings: dict[str, dict[str, int]] = {}
        for doc_id, toks in docs.items():
            for term, tf in Counter(toks).items():
                self.postings.setdefault(term, {})[doc_id] = tf
        # A term no document has gets the highest idf: unknown words count against coverage.
        self.unknown_idf = self.idf(0)

    def idf(self, df: int) -> float:
        return math.log(1.0 + (self.n - df + 0.5) / (df + 0.5))

    def scores(self, query: list[str]) -> dict[str, float]:
        out: dict[str, float] = {}
        if not self.avgdl:
            return out
        for term in set(query):
            posting = self.postings.get(term)
            if not posting:
                continue
            idf = self.idf(len(posting))
            for doc_id, tf in posting.items():
                norm = self.k1 * (1.0 - self.b + self.b * self.doc_len[doc_id] / self.avgdl)
                out[doc_id] = out.get(doc_id, 0.0) + idf * tf * (self.k1 + 1.0) / (tf + norm)
        return out

    def max_score(self, query: list[str]) -> float:
        """What a document matching every query term once, at average length, would score:
        the yardstick that turns a BM25 score into a 0..1 'coverage' comparable across
        messages (raw BM25 grows with message length)."""
        total = 0.0
        for term in set(query):
            posting = self.postings.get(term)
            total += self.idf(len(posting)) if posting else self.unknown_idf
        return total


class LexicalIndex:
    def __init__(self, texts: dict[str, str], *, k1: float = 2.0, b: float = 0.75) -> None:
        self.bm25 = BM25({agent_id: tokenize(text) for agent_id, text in texts.items()},
                         k1=k1, b=b)

    def score(self, text: str) -> dict[str, float]:
        """Per agent, a 0..1 score: BM25 divided by the query's yardstick, capped at 1."""
        query = tokenize(text)
        if not query:
            return {}
        yardstick = self.bm25.max_score(query)
        if yardstick <= 0:
            return {}
        return {a: min(1.0, s / yardstick) for a, s in self.bm25.scores(query).items()}


def agent_text(agent) -> str:  # agent: AgentConfig (untyped to keep this module standalone)
    """The text BM25 indexes for an agent: its id and name, keywords (repeated: they were chosen
    by hand) and every routing text (agent_texts.py: examples, descriptions, card skills,
    system prompt, MCP server names)."""
    from switchyard.routing.agent_texts import routing_texts

    r = agent.routing
    parts = [agent.agentId.replace("-", " "), agent.name, " ".join(r.keywords * 2),
             *routing_texts(agent)]
    return "\n".join(p for p in parts if p)


def agent_docs(agent) -> list[str]:
    """An agent's labelled texts for the naive Bayes classifier: each example is a document,
    and so is each describing text (they say what the agent is for) and the keyword list."""
    from switchyard.routing.agent_texts import routing_texts

    docs = routing_texts(agent)
    if agent.routing.keywords:
        docs.append(" ".join(agent.routing.keywords))
    return docs
