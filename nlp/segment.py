"""Word segmentation with jieba's dictionary semantics (precise mode; HMM off by default).

rjieba (jieba-rs) is the fast engine: with HMM off its tokens equal jieba's (FINDINGS.md) at
~30x the speed and it starts in ~0.1 s (HMM on: 98.6% of real posts identical; keywords use it,
because jieba.analyse does and it finds new words such as 探店). jieba itself is the reference and the fallback when
rjieba cannot be imported. Both get the same user words (``nlp.user_dict`` plus every
campaign's ``brand_terms``) with the same explicit frequency: the engines' own
``suggest_freq`` differ on mixed Latin/digit words (``Dior999``: 2 vs 3), so we never rely on it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Literal

from crawlers.config import Settings

logger = logging.getLogger(__name__)

Engine = Literal["rjieba", "jieba"]
#: Frequency given to user words: far above what a split into dictionary words scores, so a
#: brand name stays whole, yet a plain number (the dictionary's total is ~60M).
USER_WORD_FREQ = 1000


def user_words(settings: Settings) -> list[str]:
    """The segmenter's extra words: ``nlp.user_dict`` and all campaigns' brand terms, sorted."""
    words = set(settings.nlp.user_dict)
    for campaign in settings.campaigns.values():
        words.update(campaign.brand_terms)
    return sorted(w.strip() for w in words if w.strip())


class Segmenter:
    """Cut text into words; the dictionary loads on first use, once per instance."""

    def __init__(self, words: Iterable[str] = (), engine: Engine | None = None) -> None:
        self.words = tuple(words)
        self._engine_name = engine
        self._cut: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine | None = None) -> Segmenter:
        """The process-wide segmenter for these settings' words (its dictionary loads once)."""
        return shared_segmenter(tuple(user_words(settings)), engine)

    @property
    def engine(self) -> Engine:
        return self._engine_name or ("rjieba" if _have_rjieba() else "jieba")

    def cut(self, text: str, hmm: bool = False) -> list[str]:
        """Tokens of ``text`` (jieba precise mode); whitespace tokens included."""
        if self._cut is None:
            self._load()
        return list(self._cut(text, hmm))

    def _load(self) -> None:
        with self._lock:
            if self._cut is None:
                loader = _load_rjieba if self.engine == "rjieba" else _load_jieba
                self._cut = loader(self.words)
                logger.debug("segmenter %s loaded with %d user words", self.engine, len(self.words))


@lru_cache(maxsize=8)
def shared_segmenter(words: tuple[str, ...], engine: Engine | None = None) -> Segmenter:
    return Segmenter(words, engine)


def _have_rjieba() -> bool:
    try:
        import rjieba  # noqa: F401
    except ImportError:
        logger.warning("rjieba is not importable; segmenting with jieba (about 30x slower)")
        return False
    return True


def _load_rjieba(words: Iterable[str]) -> Any:
    import rjieba

    tok = rjieba.Jieba()
    for word in words:
        if not tok.has_word(word):
            tok.add_word(word, USER_WORD_FREQ, None)
    return lambda text, hmm: tok.cut(text, hmm)


def _load_jieba(words: Iterable[str]) -> Any:
    import jieba

    tok = jieba.Tokenizer()  # private instance: the global jieba dictionary stays untouched
    tok.initialize()
    for word in words:
        if not tok.FREQ.get(word):
            tok.add_word(word, USER_WORD_FREQ)
    return lambda text, hmm: tok.lcut(text, HMM=hmm)
