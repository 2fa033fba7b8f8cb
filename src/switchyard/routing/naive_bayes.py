"""A text classifier trained at index-build time on the agents' own routing examples.

The examples are labelled data ("this message belongs to billing"), and a discriminative view
of them separates intents that share topic words better than BM25 retrieval does: BM25 asks
"which agent's text has these words", naive Bayes asks "which agent's examples use these
words *more than the others do*". Bigrams ("charged twice", "log in") carry intent that
single words lose.

Multinomial naive Bayes with Laplace smoothing over stemmed word unigrams and bigrams,
uniform class prior. Pure Python (the no-semantic path has no numpy): training takes ~20 ms
for the 11 example agents (~700 texts) and ~0.2 s for 50 agents; scoring a message over 50
agents well under a millisecond.
"""

from __future__ import annotations

import math
from collections import Counter

TYPE_CHECKING = False  # typing is not imported at run time: `route --hook` loads this per prompt
if TYPE_CHECKING:
    from typing import Callable, Iterable


def ngrams(tokens: list[str]) -> list[str]:
    """Unigrams plus adjacent bigrams (of the stopword-free, stemmed tokens)."""
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]


class NaiveBayes:
    """`docs`: class -> list of texts. `tokenize` turns a text into stemmed tokens.
    `alpha`: additive smoothing. `temperature`: the summed log-likelihoods are divided by
    it before the softmax -- NB's independence assumption makes raw posteriors far too
    sure of themselves (a 12-word message gives 0.999 to someone), and a flatter posterior
    mixes better with the other layers' 0..1 scores."""

    def __init__(self, docs: dict[str, list[str]], tokenize: Callable[[str], list[str]], *,
                 alpha: float = 0.1, temperature: float = 1.0) -> None:
        self.tokenize = tokenize
        self.temperature = temperature
        self.classes = list(docs)
        counts: dict[str, Counter[str]] = {c: Counter() for c in self.classes}
        for c, texts in docs.items():
            for t in texts:
                counts[c].update(ngrams(tokenize(t)))
        vocab = set().union(*counts.values()) if counts else set()
        v = len(vocab) or 1
        denoms = [math.log(sum(counts[c].values()) + alpha * v) for c in self.classes]
        # log P(feature | class), feature -> [per class], so that a message costs one lookup
        # per feature; features no class has seen are skipped.
        self.log_prob = _LogProbTable(vocab, [counts[c] for c in self.classes], denoms, alpha)

    def features(self, text: str) -> list[str]:
        return [f for f in ngrams(self.tokenize(text)) if f in self.log_prob]

    def log_likelihoods(self, feats: Iterable[str]) -> list[float]:
        totals = [0.0] * len(self.classes)
        for f in feats:
            row = self.log_prob[f]
            for i, x in enumerate(row):
                totals[i] += x
        return totals

    def predict_proba(self, text: str) -> dict[str, float]:
        """Per class, the (tempered) posterior; empty when no feature is known -- no
        evidence, rather than a uniform guess."""
        feats = self.features(text)
        if not feats or not self.classes:
            return {}
        ll = [x / self.temperature for x in self.log_likelihoods(feats)]
        top = max(ll)
        exps = [math.exp(x - top) for x in ll]
        total = sum(exps)
        return {c: e / total for c, e in zip(self.classes, exps)}


class _LogProbTable(dict):
    """`feature -> [log P(feature | class) per class]` over the training vocabulary, each row
    computed when a message first needs it: a message uses a few dozen of the thousands of
    features, and `route --hook` builds a classifier per prompt (the same numbers either way)."""

    def __init__(self, vocab: set[str], counts: list[Counter[str]], denoms: list[float],
                 alpha: float) -> None:
        super().__init__()
        self._vocab, self._counts, self._denoms, self._alpha = vocab, counts, denoms, alpha

    def __contains__(self, feature: object) -> bool:
        return feature in self._vocab

    def __len__(self) -> int:
        return len(self._vocab)

    def __missing__(self, feature: str) -> list[float]:
        if feature not in self._vocab:
            raise KeyError(feature)
        row = [math.log(counts[feature] + self._alpha) - denom
               for counts, denom in zip(self._counts, self._denoms)]
        self[feature] = row
        return row
