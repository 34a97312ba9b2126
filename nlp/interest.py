"""Interests from the seed words of ``[nlp.interests]``.

A seed that is a whole token scores 1, a seed found only inside a longer word or across tokens
(拿铁 is not a jieba word) scores 0.5, and a seed inside one of the post's #topics# scores 1.
An interest is returned when its score reaches ``THRESHOLD``; best first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

TOKEN_WEIGHT = 1.0
SUBSTRING_WEIGHT = 0.5
TOPIC_WEIGHT = 1.0
THRESHOLD = 1.0


class InterestMatcher:
    def __init__(self, interests: Mapping[str, Sequence[str]]) -> None:
        self.seeds = {
            name: tuple(sorted({s.strip().lower() for s in seeds if s.strip()}))
            for name, seeds in interests.items()
        }

    def scores(
        self, text: str, tokens: Sequence[str], topics: Sequence[str] = ()
    ) -> dict[str, float]:
        """Score of every interest with any evidence in the post."""
        lowered = text.lower()
        token_set = {t.lower() for t in tokens}
        topic_text = " ".join(topics).lower()
        out: dict[str, float] = {}
        for name, seeds in self.seeds.items():
            score = sum(_seed_score(s, lowered, token_set, topic_text) for s in seeds)
            if score:
                out[name] = score
        return out

    def match(self, text: str, tokens: Sequence[str], topics: Sequence[str] = ()) -> list[str]:
        """Names of the interests the post shows, best first (ties by name)."""
        scored = self.scores(text, tokens, topics)
        ranked = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))
        return [name for name, score in ranked if score >= THRESHOLD]


def _seed_score(seed: str, text: str, tokens: set[str], topic_text: str) -> float:
    score = TOPIC_WEIGHT if seed in topic_text else 0.0
    if seed in tokens:
        return score + TOKEN_WEIGHT
    if seed in text:
        return score + SUBSTRING_WEIGHT
    return score
