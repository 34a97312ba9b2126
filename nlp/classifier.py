"""The classifier interface every NLP backend implements, and the lexicon backend.

A backend turns a batch of post texts into ``Labels``. ``version`` names everything that
changes its output, so the label stage can tell which posts need (re)labelling. Transformer or
ONNX backends plug in by implementing ``Classifier`` and adding a branch to ``make_classifier``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Protocol, runtime_checkable

from crawlers.config import Settings
from nlp.intent import detect_intents
from nlp.interest import InterestMatcher
from nlp.keywords import extract_keywords
from nlp.normalize import normalize, strip_emoticons
from nlp.segment import Segmenter, user_words
from nlp.sentiment import SentimentModel

logger = logging.getLogger(__name__)

#: Bump when the rules in code change (the data files and settings are hashed on their own).
LEXICON_RULES = "lexicon-v0"


@dataclass(frozen=True)
class Labels:
    sentiment: str = "neutral"  # positive | negative | neutral
    sentiment_score: float = 0.0  # confidence of ``sentiment``, 0..1
    polarity: float = 0.0  # -1..1
    interests: list[str] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)


@runtime_checkable
class Classifier(Protocol):
    version: str

    def predict(self, texts: Sequence[str]) -> list[Labels]: ...


def lexicon_version(settings: Settings) -> str:
    """``lexicon-v0-`` + 10 hex of a hash over the data files and the settings that matter."""
    digest = hashlib.sha256()
    data = resources.files("nlp").joinpath("data")
    for name in sorted(p.name for p in data.iterdir() if p.is_file()):
        digest.update(name.encode() + b"\0" + data.joinpath(name).read_bytes() + b"\0")
    nlp = settings.nlp
    params = {
        "user_words": user_words(settings),
        "interests": {k: sorted(v) for k, v in sorted(nlp.interests.items())},
        "neutral_band": nlp.neutral_band,
        "keywords_top_k": nlp.keywords_top_k,
    }
    digest.update(json.dumps(params, sort_keys=True, ensure_ascii=False).encode())
    return f"{LEXICON_RULES}-{digest.hexdigest()[:10]}"


class LexiconClassifier:
    """Lexicon sentiment, seed-word interests, rule intents and TF-IDF keywords."""

    def __init__(self, settings: Settings, segmenter: Segmenter | None = None) -> None:
        self.version = lexicon_version(settings)
        self.segmenter = segmenter or Segmenter.from_settings(settings)
        self.sentiment = SentimentModel(neutral_band=settings.nlp.neutral_band)
        self.interests = InterestMatcher(settings.nlp.interests)
        self.top_k = settings.nlp.keywords_top_k

    def predict(self, texts: Sequence[str]) -> list[Labels]:
        return [self.predict_one(t) for t in texts]

    def predict_one(self, text: str) -> Labels:
        norm = normalize(text)
        tokens = self.segmenter.cut(norm.text)
        senti = self.sentiment.score(tokens)
        keywords = extract_keywords(self._keyword_tokens(norm.text), self.top_k)
        return Labels(
            sentiment=senti.label,
            sentiment_score=senti.score,
            polarity=senti.polarity,
            interests=self.interests.match(norm.text, tokens, norm.topics),
            intents=detect_intents(norm.text),
            keywords=keywords,
        )

    def _keyword_tokens(self, text: str) -> list[str]:
        # HMM on, as jieba.analyse.extract_tags cuts: it finds new words such as 探店.
        return self.segmenter.cut(strip_emoticons(text), hmm=True) if self.top_k else []


def make_classifier(settings: Settings) -> Classifier:
    """The backend named by ``nlp.model``."""
    if settings.nlp.model == "lexicon":
        return LexiconClassifier(settings)
    raise ValueError(f"unknown nlp.model {settings.nlp.model!r}")  # pragma: no cover - Literal
