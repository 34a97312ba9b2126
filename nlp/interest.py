"""Interests from the seed words of ``[nlp.interests]``, or from example posts.

A seed that is a whole token scores 1, a seed found only inside a longer word or across tokens
(拿铁 is not a jieba word) scores 0.5, and a seed inside one of the post's #topics# scores 1.
An interest is returned when its score reaches ``THRESHOLD``; best first.

``ExampleInterests`` defines a campaign interest by a few example posts instead (see there).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

from nlp.normalize import normalize, strip_emoticons

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
        # seeds by first character: a post is checked only against seeds that can occur in it
        self._by_first: dict[str, list[tuple[str, str]]] = {}
        for name, seeds in self.seeds.items():
            for seed in seeds:
                self._by_first.setdefault(seed[0], []).append((name, seed))

    def scores(
        self, text: str, tokens: Sequence[str], topics: Sequence[str] = ()
    ) -> dict[str, float]:
        """Score of every interest with any evidence in the post."""
        lowered = text.lower()
        token_set = set(tokens) if lowered == text else {t.lower() for t in tokens}
        topic_text = " ".join(topics).lower()
        out: dict[str, float] = {}
        for char in set(lowered) | set(topic_text):
            for name, seed in self._by_first.get(char, ()):
                score = _seed_score(seed, lowered, token_set, topic_text)
                if score:
                    out[name] = out.get(name, 0.0) + score
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


# --- interests by example posts ---------------------------------------------------------------

#: Cosine from which a post shows an example interest. Tuned on two sets of 3 interests x 4
#: examples, it passes 14 of 15 paraphrases in each and 1 to 3 of 7,000 ordinary Weibo posts
#: (SMP2020-EWECT "usual"), some of them on the topic anyway.
EXAMPLE_THRESHOLD = 0.13
#: Weight of a character 1-gram against 2- and 3-grams: single characters (猫, 跑, 肤) carry the
#: topic when a paraphrase reorders the words.
UNIGRAM_WEIGHT = 1.5
#: Characters too common to say anything about a topic on their own (as 1-grams).
_FUNCTION_CHARS = frozenset(
    "的了是我你他她它们在和与也就都很还这那有个一不没吗呢吧啊呀哦嘛么着过把被给让"
)
# runs of Latin letters and digits (one token each), and runs of other letters (CJK, kana)
_RUNS = re.compile(r"[a-z0-9]+|[^\W_a-z0-9]+")


class ExampleInterests:
    """Interests defined by a few example posts instead of seed words.

    Each post becomes a TF-IDF vector of its character 1- to 3-grams (sublinear term
    frequency, 1-grams weighted ``UNIGRAM_WEIGHT``, L2-normalized; a Latin word is one term);
    an interest is the normalized mean of its examples' vectors. A
    post shows an interest when its cosine with the interest reaches ``threshold``. IDF comes
    from the examples plus an optional ``background`` of ordinary posts, which makes words
    every post uses count less.

    >>> ex = ExampleInterests({"coffee": ["周末去咖啡馆喝手冲", "这家店的拿铁拉花好看"]})
    >>> ex.match("周末和朋友去咖啡馆，点了一杯手冲")
    ['coffee']
    >>> ex.match("今天加班到很晚")
    []
    """

    def __init__(
        self,
        examples: Mapping[str, Sequence[str]],
        threshold: float = EXAMPLE_THRESHOLD,
        background: Sequence[str] = (),
    ) -> None:
        self.threshold = threshold
        grams = {name: [_grams(t) for t in texts] for name, texts in examples.items()}
        docs = [g for gs in grams.values() for g in gs] + [_grams(t) for t in background]
        df = Counter(term for doc in docs for term in set(doc))
        n = len(docs)
        self.idf = {term: math.log((1 + n) / (1 + d)) + 1 for term, d in df.items()}
        self.unseen_idf = math.log(1 + n) + 1
        self.centroids = {
            name: _unit(_mean([self._vector(g) for g in gs])) for name, gs in grams.items() if gs
        }

    def scores(self, text: str) -> dict[str, float]:
        """Cosine of ``text`` (normalized) with every interest it shares a term with."""
        vec = self._vector(_grams(text))
        out: dict[str, float] = {}
        for name, centroid in self.centroids.items():
            cos = sum(w * centroid.get(term, 0.0) for term, w in vec.items())
            if cos > 0:
                out[name] = round(cos, 6)
        return out

    def match(self, text: str) -> list[str]:
        """Interests whose cosine reaches ``threshold``, best first (ties by name)."""
        ranked = sorted(self.scores(text).items(), key=lambda kv: (-kv[1], kv[0]))
        return [name for name, score in ranked if score >= self.threshold]

    def _vector(self, grams: Counter[str]) -> dict[str, float]:
        vec = {
            term: (1 + math.log(tf))
            * self.idf.get(term, self.unseen_idf)
            * (UNIGRAM_WEIGHT if len(term) == 1 else 1.0)
            for term, tf in grams.items()
        }
        return _unit(vec)


def _grams(text: str) -> Counter[str]:
    """Character 1- to 3-grams inside runs of letters (no n-gram spans punctuation or a
    script change); a Latin word or number is one term; function characters are no 1-grams."""
    out: Counter[str] = Counter()
    for run in _RUNS.findall(strip_emoticons(normalize(text).text).lower()):
        if run.isascii():
            out[f"w:{run}"] += 1  # never a 1-gram, whatever its length
            continue
        for n in (1, 2, 3):
            for i in range(len(run) - n + 1):
                gram = run[i : i + n]
                if n > 1 or gram not in _FUNCTION_CHARS:
                    out[gram] += 1
    return out


def _mean(vectors: Sequence[Mapping[str, float]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for vec in vectors:
        for term, w in vec.items():
            total[term] = total.get(term, 0.0) + w / len(vectors)
    return total


def _unit(vec: Mapping[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(w * w for w in vec.values()))
    return {term: w / norm for term, w in vec.items()} if norm else {}
