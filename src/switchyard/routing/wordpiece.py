"""BERT's uncased WordPiece tokenizer in plain Python: the static embeddings (static.py) are
one vector per token of all-MiniLM-L6-v2's vocabulary, so text must be split exactly as that
model splits it. Its own tokenizer lives in `tokenizers`/`transformers`, which the default
install does not have; this is the same algorithm (lower-case, strip accents, split on
whitespace and punctuation, CJK characters alone, then greedy longest-match word pieces),
checked against the model's tokenizer by bench/routing/distill_static.py and a unit test.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

TYPE_CHECKING = False  # typing is not imported at run time: `route --hook` loads this per prompt
if TYPE_CHECKING:
    from typing import Sequence

UNKNOWN = "[UNK]"
MAX_WORD_CHARS = 100  # BERT's limit: a longer "word" is one unknown token


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    # BERT treats all non-alphanumeric ASCII as punctuation ("$", "^", "`" are not in Unicode P*).
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_split(text: str) -> list[str]:
    """Lower-cased, accent-free words and single punctuation marks."""
    cleaned = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or (unicodedata.category(ch).startswith("C") and ch not in "\t\n\r"):
            continue
        if ch.isspace():
            cleaned.append(" ")
        elif _is_cjk(cp):
            cleaned.append(f" {ch} ")
        else:
            cleaned.append(ch)
    words: list[str] = []
    for word in "".join(cleaned).split():
        word = unicodedata.normalize("NFD", word.lower())
        word = "".join(ch for ch in word if unicodedata.category(ch) != "Mn")
        current = ""
        for ch in word:
            if _is_punctuation(ch):
                if current:
                    words.append(current)
                    current = ""
                words.append(ch)
            else:
                current += ch
        if current:
            words.append(current)
    return words


class WordPiece:
    def __init__(self, vocab: Sequence[str]) -> None:
        self.vocab = dict(zip(vocab, range(len(vocab))))  # as a comprehension, twice as fast
        self.unknown_id = self.vocab.get(UNKNOWN, 0)
        self._word = lru_cache(maxsize=20_000)(self._word_pieces)

    def _word_pieces(self, word: str) -> tuple[str, ...]:
        if len(word) > MAX_WORD_CHARS:
            return (UNKNOWN,)
        pieces: list[str] = []
        start = 0
        while start < len(word):
            end = len(word)
            piece = None
            while start < end:
                candidate = word[start:end] if start == 0 else "##" + word[start:end]
                if candidate in self.vocab:
                    piece = candidate
                    break
                end -= 1
            if piece is None:
                return (UNKNOWN,)
            pieces.append(piece)
            start = end
        return tuple(pieces)

    def tokenize(self, text: str) -> list[str]:
        return [p for word in basic_split(text) for p in self._word(word)]

    def ids(self, text: str) -> list[int]:
        return [self.vocab.get(p, self.unknown_id) for p in self.tokenize(text)]
