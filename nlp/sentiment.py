"""Lexicon + rules sentiment, written for tingfeng.

The lexicon (``nlp/data/lexicon.tsv``) holds sentiment words, Weibo emoticons and emoji with
signed weights, degree adverbs, negations and contrast words. A post is scored clause by
clause: a word's weight is scaled by the degree adverbs and flipped by the negations just
before it, an exclamation mark strengthens its clause, a question weakens it, and a contrast
word (但是, 不过) halves what came before it. ``tanh`` maps the sum to a polarity in (-1, 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

LEXICON_RESOURCE = "data/lexicon.tsv"
CLAUSE_ENDS = frozenset("，,。.！!？?；;～~…\n \t、：:")
EXCLAIM = 1.3
QUESTION = 0.6
CONTRAST_BEFORE = 0.5
NEGATED_POSITIVE = 0.9  # 不好吃 is about as bad as 好吃 is good
NEGATED_NEGATIVE = 0.4  # 不难吃 is faint praise
WINDOW = 3  # tokens a degree or negation waits for its word
SCALE = 0.5  # tanh(SCALE * sum): one plain word (weight 1) gives polarity 0.46


@dataclass(frozen=True)
class Sentiment:
    label: str  # positive | negative | neutral
    score: float  # confidence of ``label``, 0..1
    polarity: float  # -1..1


@dataclass(frozen=True, eq=False)  # hashed by identity: it is a cache key
class Lexicon:
    terms: dict[str, dict[str, float]]  # term -> {kind: weight}
    max_len: int
    prefixes: frozenset[str]  # proper prefixes of terms: where a phrase may continue

    def kind(self, term: str) -> dict[str, float]:
        return self.terms.get(term, {})


def parse_lexicon(text: str) -> Lexicon:
    """Parse ``term<TAB>kind<TAB>weight`` lines; ``#`` lines are comments."""
    terms: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        term, kind, weight = line.split("\t")
        terms.setdefault(term, {})[kind] = float(weight)
    prefixes = frozenset(t[:i] for t in terms for i in range(1, len(t)))
    return Lexicon(terms, max(map(len, terms), default=1), prefixes)


def lexicon_text() -> str:
    return resources.files("nlp").joinpath(LEXICON_RESOURCE).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    return parse_lexicon(lexicon_text())


def merge_phrases(tokens: Sequence[str], lexicon: Lexicon, longest: int = 5) -> list[str]:
    """Join runs of up to ``longest`` tokens that spell a lexicon term (不太满意, [笑cry])."""
    out: list[str] = []
    i, n = 0, len(tokens)
    while i < n:
        step = _phrase_length(tokens, i, lexicon, longest) if tokens[i] in lexicon.prefixes else 1
        if step > 1:
            out.append("".join(tokens[i : i + step]))
        else:
            out.extend(_split_cached(tokens[i], lexicon))
        i += step
    return out


def _phrase_length(tokens: Sequence[str], i: int, lexicon: Lexicon, longest: int) -> int:
    """Tokens in the longest lexicon term starting at ``tokens[i]`` (1 when none)."""
    step, joined = 1, tokens[i]
    for j in range(i + 1, min(len(tokens), i + longest)):
        joined += tokens[j]
        if joined in lexicon.terms:
            step = j - i + 1
        elif joined not in lexicon.prefixes:
            break
    return step


@lru_cache(maxsize=200_000)
def _split_cached(token: str, lexicon: Lexicon) -> tuple[str, ...]:
    return tuple(split_token(token, lexicon))


def split_token(token: str, lexicon: Lexicon) -> list[str]:
    """A dictionary word that hides lexicon terms (好开心, 太棒了) cut into them.

    Only when a term of two or more characters is inside: single characters such as 美 or 香
    would otherwise fire inside 美国 and 香港. Leftover characters stay as single tokens, so a
    degree or negation prefix (好开心 -> 好 开心) still applies.
    """
    if token in lexicon.terms or len(token) < 3:
        return [token]
    pieces: list[str] = []
    i, found = 0, False
    while i < len(token):
        for j in range(min(len(token), i + lexicon.max_len), i + 1, -1):
            if token[i:j] in lexicon.terms:
                pieces.append(token[i:j])
                i, found = j, True
                break
        else:
            pieces.append(token[i])
            i += 1
    return pieces if found else [token]


def is_emoticon(term: str) -> bool:
    """Emoticons and emoji speak for themselves: negations and degrees do not touch them."""
    return term.startswith("[") or not term[:1].isalnum()


class SentimentModel:
    """Scores token lists; thread-safe (no state between calls)."""

    def __init__(self, lexicon: Lexicon | None = None, neutral_band: float = 0.15) -> None:
        self.lexicon = lexicon or default_lexicon()
        self.neutral_band = neutral_band

    def score(self, tokens: Sequence[str]) -> Sentiment:
        raw = self.raw_score(merge_phrases(tokens, self.lexicon))
        return self.label(math.tanh(SCALE * raw))

    def label(self, polarity: float) -> Sentiment:
        strength = abs(polarity)
        if strength < self.neutral_band:
            conf = 1.0 - 0.5 * strength / self.neutral_band if self.neutral_band else 1.0
            return Sentiment("neutral", round(conf, 4), round(polarity, 4))
        name = "positive" if polarity > 0 else "negative"
        return Sentiment(name, round(0.5 + 0.5 * strength, 4), round(polarity, 4))

    def raw_score(self, tokens: Sequence[str]) -> float:
        total, clause = 0.0, 0.0
        mods = _Modifiers()
        terms = self.lexicon.terms
        for i, tok in enumerate(tokens):
            kinds = terms.get(tok)
            if kinds is None:
                if tok in CLAUSE_ENDS or tok.isspace():
                    total += clause * _clause_factor(tok)
                    clause = 0.0
                    mods.reset()
                else:
                    mods.tick()
            elif "contrast" in kinds:
                clause, total = 0.0, (total + clause) * CONTRAST_BEFORE
            else:
                nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
                clause += self._step(tok, kinds, nxt, mods)
        return total + clause

    def _step(self, tok: str, kinds: dict[str, float], nxt: str, mods: _Modifiers) -> float:
        """What one lexicon token adds to its clause (modifiers wait for the next word)."""
        modifies = "word" not in kinds or "word" in self.lexicon.kind(nxt)
        if "negation" in kinds and modifies:
            mods.negate(kinds["negation"])
        elif "degree" in kinds and modifies:
            mods.degree *= kinds["degree"]
            mods.age = 0
        else:
            return mods.apply(tok, kinds["word"])
        return 0.0


class _Modifiers:
    """Degree and negation waiting for the next sentiment word."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.degree, self.negations, self.strength, self.age = 1.0, 0, 1.0, 0

    def negate(self, strength: float) -> None:
        self.negations += 1
        self.strength *= strength
        self.age = 0

    def tick(self) -> None:
        self.age += 1
        if self.age > WINDOW:
            self.reset()

    def apply(self, term: str, weight: float) -> float:
        if is_emoticon(term):
            return weight
        value = weight * self.degree
        if self.negations % 2:
            flip = NEGATED_POSITIVE if weight > 0 else NEGATED_NEGATIVE
            value = -value * flip * self.strength
        self.reset()
        return value


def _clause_factor(end: str) -> float:
    if end in "！!":
        return EXCLAIM
    if end in "？?":
        return QUESTION
    return 1.0
