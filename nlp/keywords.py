"""TF-IDF keywords: jieba's IDF table on the segmenter's tokens.

The arithmetic is ``jieba.analyse.extract_tags``' (term count x IDF / token count, unknown
words get the median IDF, ties keep first-seen order), so on the same tokens and stop words the
result is the same; the tokens come from rjieba with HMM off instead of jieba with HMM on.
Tokens shorter than two characters, stop words and tokens with no letter or Han character
(numbers, punctuation runs) are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

logger = logging.getLogger(__name__)

#: jieba.analyse's own English stop words, kept so results match extract_tags
JIEBA_STOP_WORDS = frozenset(
    [
        "the",
        "of",
        "is",
        "and",
        "to",
        "in",
        "that",
        "we",
        "for",
        "an",
        "are",
        "by",
        "be",
        "as",
        "on",
        "with",
        "can",
        "if",
        "from",
        "which",
        "you",
        "it",
        "this",
        "then",
        "at",
        "have",
        "all",
        "not",
        "one",
        "has",
        "or",
    ]
)


@dataclass(frozen=True)
class IdfTable:
    idf: dict[str, float]
    median: float


def jieba_idf_path() -> Path:
    """jieba's bundled ``analyse/idf.txt``, located without importing jieba.analyse."""
    import jieba

    return Path(jieba.__file__).parent / "analyse" / "idf.txt"


@lru_cache(maxsize=1)
def idf_table() -> IdfTable:
    """jieba's IDF table, read once (~0.3 s)."""
    idf: dict[str, float] = {}
    for line in jieba_idf_path().read_text(encoding="utf-8").splitlines():
        word, _, value = line.strip().partition(" ")
        if value:
            idf[word] = float(value)
    median = sorted(idf.values())[len(idf) // 2]
    logger.debug("IDF table: %d words, median %.3f", len(idf), median)
    return IdfTable(idf, median)


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """Our stop words (``nlp/data/stopwords.txt``) plus jieba's."""
    text = resources.files("nlp").joinpath("data/stopwords.txt").read_text(encoding="utf-8")
    ours = {ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")}
    return frozenset(ours) | JIEBA_STOP_WORDS


@lru_cache(maxsize=100_000)
def _is_candidate(token: str) -> bool:
    if len(token.strip()) < 2 or token.lower() in stop_words():
        return False
    return any(ch.isalpha() for ch in token)  # Han characters count as alphabetic


def extract_keywords(tokens: Iterable[str], top_k: int) -> list[str]:
    """The ``top_k`` tokens by TF-IDF, best first."""
    if top_k <= 0:
        return []
    table = idf_table()
    counts: dict[str, float] = {}
    for tok in tokens:
        if _is_candidate(tok):
            counts[tok] = counts.get(tok, 0.0) + 1.0
    total = sum(counts.values())
    scores = {w: c * table.idf.get(w, table.median) / total for w, c in counts.items()}
    return sorted(scores, key=scores.__getitem__, reverse=True)[:top_k]
