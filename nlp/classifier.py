"""The classifier interface every NLP backend implements, and the backends.

A classifier turns a batch of post texts into ``Labels``. Two kinds of parts make a label:

* **rules** (always): keywords (TF-IDF on jieba tokens), seed-word and example-post interests,
  intents, the 5A stage toward each campaign brand, post-level spam cues, and - in the
  ``lexicon`` backend only - lexicon sentiment;
* **heads** (``linear``, ``transformer``, ``onnx`` backends): trained models for ``sentiment``
  (negative/neutral/positive), ``emotion`` (the six SMP2020-EWECT emotions) and ``topic`` (the
  THUCNews classes, mapped onto interests), see ``nlp.heads``.

``components`` names the version of every part; ``version`` hashes them. When the version
changes, the label stage hands each post's previous label to ``predict(..., previous=...)`` and
only the parts whose version changed are computed again: swapping the topic model recomputes
topics, not sentiment.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from crawlers.config import Settings
from crawlers.errors import ConfigError
from nlp.heads import HEADS, HeadPredictor
from nlp.intent import detect_intents
from nlp.interest import ExampleInterests, InterestMatcher
from nlp.keywords import extract_keywords
from nlp.normalize import Normalized, is_labellable, normalize, strip_emoticons
from nlp.segment import Segmenter, user_words
from nlp.sentiment import SentimentModel
from nlp.spam import post_spam
from nlp.stage5a import brand_stage

logger = logging.getLogger(__name__)

#: Bump when the rules in code change (the data files and settings are hashed on their own).
LEXICON_RULES = "lexicon-v1"  # v1: new intent rules, 5A, spam, sanitizing

#: THUCNews classes of the topic head -> the interest name a post gets when the head is sure.
TOPIC_INTERESTS: dict[str, str] = {
    "finance": "finance",
    "realty": "realty",
    "stocks": "stocks",
    "education": "education",
    "science": "tech",
    "society": "society",
    "politics": "politics",
    "sports": "sports",
    "game": "gaming",
    "entertainment": "entertainment",
}

MODEL_DIR = Path(__file__).parent / "data" / "models"


@dataclass(frozen=True)
class Labels:
    sentiment: str = "neutral"  # positive | negative | neutral
    sentiment_score: float = 0.0  # confidence of ``sentiment``, 0..1
    polarity: float = 0.0  # -1..1
    interests: list[str] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    emotion: str = ""  # "" when no emotion head ran
    emotion_score: float = 0.0
    topic: str = ""
    topic_score: float = 0.0
    stages: dict[str, str] = field(default_factory=dict)  # brand -> 5A stage
    spam_score: float = 0.0
    spam_reasons: list[str] = field(default_factory=list)
    labellable: bool = True
    components: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Classifier(Protocol):
    version: str

    def predict(
        self, texts: Sequence[str], previous: Sequence[Mapping[str, Any] | None] | None = None
    ) -> list[Labels]: ...


def lexicon_version(settings: Settings) -> str:
    """``lexicon-v1-`` + 10 hex of a hash over the data files and the settings that matter."""
    digest = hashlib.sha256()
    data = resources.files("nlp").joinpath("data")
    for name in sorted(p.name for p in data.iterdir() if p.is_file()):
        digest.update(name.encode() + b"\0" + data.joinpath(name).read_bytes() + b"\0")
    nlp = settings.nlp
    params = {
        "user_words": user_words(settings),
        "interests": {k: sorted(v) for k, v in sorted(nlp.interests.items())},
        "interest_examples": {k: list(v) for k, v in sorted(nlp.interest_examples.items())},
        "brands": brands(settings),
        "neutral_band": nlp.neutral_band,
        "keywords_top_k": nlp.keywords_top_k,
    }
    digest.update(json.dumps(params, sort_keys=True, ensure_ascii=False).encode())
    return f"{LEXICON_RULES}-{digest.hexdigest()[:10]}"


def brands(settings: Settings) -> dict[str, list[str]]:
    """Brand name -> the terms that refer to it (the name itself and its ``brand_terms``)."""
    out: dict[str, list[str]] = {}
    for campaign in settings.campaigns.values():
        terms = {campaign.brand, *campaign.brand_terms}
        out.setdefault(campaign.brand, [])
        out[campaign.brand] = sorted({*out[campaign.brand], *(t for t in terms if t.strip())})
    return dict(sorted(out.items()))


class Rules:
    """The rule-based parts shared by every backend."""

    def __init__(self, settings: Settings, segmenter: Segmenter | None = None) -> None:
        self.version = lexicon_version(settings)
        self.segmenter = segmenter or Segmenter.from_settings(settings)
        self.sentiment = SentimentModel(neutral_band=settings.nlp.neutral_band)
        self.interests = InterestMatcher(settings.nlp.interests)
        self.examples = (
            ExampleInterests(settings.nlp.interest_examples)
            if settings.nlp.interest_examples
            else None
        )
        self.brands = brands(settings)
        self.top_k = settings.nlp.keywords_top_k

    def label(self, text: str, *, lexicon_sentiment: bool) -> tuple[Labels, Normalized]:
        norm = normalize(text)
        tokens = self.segmenter.cut(norm.text)
        interests = self.interests.match(norm.text, tokens, norm.topics)
        if self.examples is not None:
            interests += [i for i in self.examples.match(norm.text) if i not in interests]
        spam = post_spam(text)
        sentiment: dict[str, Any] = {}
        if lexicon_sentiment:
            senti = self.sentiment.score(tokens)
            sentiment = {
                "sentiment": senti.label,
                "sentiment_score": senti.score,
                "polarity": senti.polarity,
            }
        labels = Labels(
            interests=interests,
            intents=detect_intents(norm.text),
            keywords=extract_keywords(self._keyword_tokens(norm.text), self.top_k),
            spam_score=spam.score,
            spam_reasons=list(spam.reasons),
            labellable=is_labellable(norm),
            **sentiment,
        )
        return labels, norm

    def lexicon(self, text: str) -> Any:
        """The lexicon's sentiment of ``text`` alone (label, score, polarity)."""
        return self.sentiment.score(self.segmenter.cut(normalize(text).text))

    def stages(self, text: str, intents: Sequence[str], sentiment: str) -> dict[str, str]:
        """5A stage per brand the post names. Reads the raw text: @names count (tagging
        friends is advocacy; @the brand's account names it)."""
        out: dict[str, str] = {}
        for brand, terms in self.brands.items():
            stage = brand_stage(text, terms, intents, sentiment)
            if stage:
                out[brand] = stage
        return out

    def _keyword_tokens(self, text: str) -> list[str]:
        # HMM on, as jieba.analyse.extract_tags cuts: it finds new words such as 探店.
        return self.segmenter.cut(strip_emoticons(text), hmm=True) if self.top_k else []


class LexiconClassifier:
    """Lexicon sentiment plus the rules: no trained model, no extra dependency."""

    def __init__(self, settings: Settings, segmenter: Segmenter | None = None) -> None:
        self.rules = Rules(settings, segmenter)
        self.version = self.rules.version
        self.components = {"rules": self.version}
        self.segmenter = self.rules.segmenter

    def predict(
        self, texts: Sequence[str], previous: Sequence[Mapping[str, Any] | None] | None = None
    ) -> list[Labels]:
        return [self.predict_one(t) for t in texts]

    def predict_one(self, text: str) -> Labels:
        labels, _ = self.rules.label(text, lexicon_sentiment=True)
        return replace(
            labels,
            stages=self.rules.stages(text, labels.intents, labels.sentiment),
            components=dict(self.components),
        )


class ModelClassifier:
    """Trained heads (one backend) plus the rules."""

    def __init__(
        self,
        settings: Settings,
        heads: Mapping[str, HeadPredictor],
        backend: str,
        segmenter: Segmenter | None = None,
        bundle: Any = None,
    ) -> None:
        self.rules = Rules(settings, segmenter)
        self.heads = dict(heads)
        self.bundle = bundle  # optional: computes several heads' features once (linear)
        self.topic_min_score = settings.nlp.topic_min_score
        self.blend = settings.nlp.lexicon_blend
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.heads)))
        self.components = {"rules": self.rules.version} | {
            name: head.version for name, head in sorted(self.heads.items())
        }
        if "sentiment" not in self.heads:
            self.components["sentiment"] = self.rules.version  # lexicon sentiment
        elif self.blend:
            self.components["sentiment"] += f"+lexicon{self.blend:g}-{self.rules.version[-10:]}"
        params = json.dumps(
            {"components": self.components, "topic_min_score": self.topic_min_score},
            sort_keys=True,
        )
        self.version = f"{backend}-{hashlib.sha256(params.encode()).hexdigest()[:12]}"

    def predict(
        self, texts: Sequence[str], previous: Sequence[Mapping[str, Any] | None] | None = None
    ) -> list[Labels]:
        prev: Sequence[Mapping[str, Any] | None] = previous or [None] * len(texts)
        fields: list[dict[str, Any]] = [{} for _ in texts]
        todo = {
            name: [i for i, p in enumerate(prev) if not _reusable(p, name, self.components)]
            for name in self.heads
        }
        union = sorted({i for rows in todo.values() for i in rows})
        # The heads run in worker threads while this thread applies the rules: ONNX Runtime
        # and most of numpy release the GIL, so on two cores the model and the rules overlap.
        pending: dict[str, Future[np.ndarray]] = {}
        bundled: Future[dict[str, np.ndarray]] | None = None
        if self.bundle is not None and union:
            # one feature pass for every head (linear); rows outside a head's todo are unused
            bundled = self._pool.submit(self.bundle.predict_many, [texts[i] for i in union])
        elif union:
            pending = {
                name: self._pool.submit(self._proba, name, [texts[i] for i in rows])
                for name, rows in todo.items()
                if rows
            }
        # lexicon sentiment: the fallback without a sentiment head, or the blend with one
        want_lexicon = "sentiment" not in self.heads or bool(self.blend)
        ruled = [self.rules.label(t, lexicon_sentiment=want_lexicon) for t in texts]
        shared = bundled.result() if bundled is not None else {}
        position = {i: row for row, i in enumerate(union)}
        for name in self.heads:
            for i, p in enumerate(prev):
                if p is not None and _reusable(p, name, self.components):
                    fields[i].update(_head_fields(name, p))
            if not todo[name]:
                continue
            if name in shared:
                proba = shared[name][[position[i] for i in todo[name]]]
            else:
                proba = pending[name].result()
            if name == "sentiment" and self.blend:
                lexicon = np.array([ruled[i][0].polarity for i in todo[name]])
                proba = blend_lexicon(proba, lexicon, self.heads[name].labels, self.blend)
            for row, i in enumerate(todo[name]):
                fields[i].update(self._from_proba(name, np.asarray(proba[row], dtype=np.float64)))
        out = []
        for text, (labels, _), extra in zip(texts, ruled, fields, strict=True):
            topic_interest = TOPIC_INTERESTS.get(extra.get("topic", ""))
            interests = list(labels.interests)
            if (
                topic_interest
                and extra.get("topic_score", 0.0) >= self.topic_min_score
                and topic_interest not in interests
            ):
                interests.append(topic_interest)
            sentiment = extra.get("sentiment", labels.sentiment)
            stages = self.rules.stages(text, labels.intents, sentiment)
            out.append(
                replace(
                    labels,
                    interests=interests,
                    stages=stages,
                    components=dict(self.components),
                    **extra,
                )
            )
        return out

    def _proba(self, name: str, texts: list[str]) -> np.ndarray:
        return np.asarray(self.heads[name].predict_proba(texts), dtype=np.float64)

    def _from_proba(self, name: str, row: np.ndarray) -> dict[str, Any]:
        labels = self.heads[name].labels
        best = int(row.argmax())
        score = float(row[best])
        if name == "sentiment":
            pos = float(row[labels.index("positive")]) if "positive" in labels else 0.0
            neg = float(row[labels.index("negative")]) if "negative" in labels else 0.0
            return {
                "sentiment": labels[best],
                "sentiment_score": score,
                "polarity": max(-1.0, min(1.0, pos - neg)),
            }
        if name == "emotion":
            return {"emotion": labels[best], "emotion_score": score}
        if name == "topic":
            return {"topic": labels[best], "topic_score": score}
        return {}  # pragma: no cover - heads are a Literal in settings


def blend_lexicon(
    proba: np.ndarray, polarity: np.ndarray, labels: Sequence[str], weight: float
) -> np.ndarray:
    """Sentiment probabilities nudged by the lexicon: ``log p + weight * polarity`` on the
    positive class and ``- weight * polarity`` on the negative one, renormalised. The lexicon
    knows words the Weibo training data never paired with a label (好喝, 下次还来)."""
    sign = np.array([{"positive": 1.0, "negative": -1.0}.get(name, 0.0) for name in labels])
    logits = np.log(np.clip(np.asarray(proba, dtype=np.float64), 1e-9, 1.0))
    logits += weight * np.asarray(polarity, dtype=np.float64)[:, None] * sign[None, :]
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


class BlendedHead:
    """A sentiment head blended with the lexicon, as the labeller uses it (for ``nlp eval``)."""

    def __init__(self, inner: HeadPredictor, settings: Settings) -> None:
        self.inner = inner
        self.head = inner.head
        self.labels = inner.labels
        self.rules = Rules(settings)
        self.weight = settings.nlp.lexicon_blend
        self.version = f"{inner.version}+lexicon{self.weight:g}-{self.rules.version[-10:]}"

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        polarity = np.array([self.rules.lexicon(t).polarity for t in texts])
        return blend_lexicon(self.inner.predict_proba(texts), polarity, self.labels, self.weight)


_HEAD_FIELDS = {
    "sentiment": ("sentiment", "sentiment_score", "polarity"),
    "emotion": ("emotion", "emotion_score"),
    "topic": ("topic", "topic_score"),
}


def _reusable(prev: Mapping[str, Any] | None, name: str, components: Mapping[str, str]) -> bool:
    if prev is None:
        return False
    done = prev.get("components") or {}
    return bool(done.get(name)) and done.get(name) == components.get(name)


def _head_fields(name: str, prev: Mapping[str, Any]) -> dict[str, Any]:
    return {key: prev[key] for key in _HEAD_FIELDS.get(name, ()) if key in prev}


# --- choosing a backend -------------------------------------------------------------------


def model_dir(settings: Settings, model: str | None = None) -> Path:
    """Where the heads of ``model`` (default ``nlp.model``) live: ``nlp.model_dir`` or the
    shipped models."""
    if settings.nlp.model_dir:
        return Path(settings.nlp.model_dir).expanduser()
    return MODEL_DIR / ("linear" if (model or settings.nlp.model) == "linear" else "onnx")


def load_head(
    settings: Settings, head: str, model: str | None = None, root: Path | None = None
) -> HeadPredictor:
    """One head of backend ``model`` (default ``nlp.model``) from ``root`` (default
    ``model_dir``): what ``make_classifier`` and ``tingfeng nlp eval`` load."""
    nlp = settings.nlp
    model = model or nlp.model
    if model == "lexicon":
        return LexiconHead(settings, head)
    root = root or model_dir(settings, model)
    if model == "linear":
        from nlp.linear import LinearHead

        return LinearHead(_head_path(root, head, ".npz", model))
    try:
        from nlp.transformer.runtime import OnnxHead, TorchHead
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(
            [
                f"nlp.model = {model!r} needs the model extras ({exc.name} is missing): "
                "pip install 'tingfeng[ml]', or set nlp.model = \"linear\""
            ]
        ) from exc
    path = _head_path(root, head, "", model)
    transformer: HeadPredictor
    if model == "transformer":
        transformer = TorchHead(path, device=nlp.device, max_len=nlp.max_len, threads=nlp.threads)
    else:
        transformer = OnnxHead(path, max_len=nlp.max_len, threads=nlp.threads)
    if model != "ensemble":
        return transformer
    from nlp.linear import LinearHead

    linear = LinearHead(_head_path(MODEL_DIR / "linear", head, ".npz", "linear"))
    return EnsembleHead(linear, transformer, nlp.ensemble_weight)


def make_classifier(settings: Settings, segmenter: Segmenter | None = None) -> Classifier:
    """The backend named by ``nlp.model``, with the heads named by ``nlp.heads``."""
    nlp = settings.nlp
    if nlp.model == "lexicon":
        return LexiconClassifier(settings, segmenter)
    wanted = list(dict.fromkeys(nlp.heads))
    if nlp.model == "linear":
        from nlp.linear import LinearBundle

        root = model_dir(settings)
        bundle = LinearBundle([_head_path(root, h, ".npz", "linear") for h in wanted])
        heads: dict[str, HeadPredictor] = {h: bundle.heads[h] for h in wanted}
        return ModelClassifier(settings, heads, "linear", segmenter, bundle=bundle)
    loaded: dict[str, HeadPredictor] = {h: load_head(settings, h) for h in wanted}
    return ModelClassifier(settings, loaded, nlp.model, segmenter)


class EnsembleHead:
    """The shipped linear head and a transformer head, probabilities averaged:
    ``(1 - weight) * linear + weight * transformer``. The two err differently (n-gram counts
    over the whole post vs. a contextual reading of its first ``max_len`` characters)."""

    def __init__(self, linear: HeadPredictor, transformer: HeadPredictor, weight: float) -> None:
        if tuple(linear.labels) != tuple(transformer.labels):
            raise ConfigError(
                [
                    f'nlp.model = "ensemble": the {linear.head!r} heads disagree on labels '
                    f"({', '.join(linear.labels)} vs {', '.join(transformer.labels)})"
                ]
            )
        self.head, self.labels = linear.head, linear.labels
        self.parts, self.weight = (linear, transformer), weight
        self.version = f"ens{weight:g}-{linear.version[-10:]}-{transformer.version[-10:]}"

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        linear, transformer = (np.asarray(p.predict_proba(texts)) for p in self.parts)
        return (1 - self.weight) * linear + self.weight * transformer


def _head_path(root: Path, head: str, suffix: str, model: str) -> Path:
    path = root / f"{head}{suffix}"
    if not path.exists():
        raise ConfigError(
            [
                f"nlp.model_dir: no {head!r} head at {path} for nlp.model = "
                f"{model!r}. Train it with `tingfeng nlp train --backend "
                f"{'linear' if suffix else 'transformer'} --head {head}`, point nlp.model_dir "
                f"(or --model-dir) at a folder with one {head}{suffix or '/'} per head, or drop "
                f"{head!r} from nlp.heads"
            ]
        )
    if head not in HEADS:  # pragma: no cover - heads are a Literal in settings
        raise ConfigError([f"nlp.heads: unknown head {head!r}; known: {', '.join(HEADS)}"])
    return path


class LexiconHead:
    """The lexicon's sentiment as a head, so ``tingfeng nlp eval --backend lexicon`` can score it
    on the sentiment tasks (``review``: negative/positive; ``sentiment``: three classes)."""

    def __init__(self, settings: Settings, head: str) -> None:
        if head not in ("review", "sentiment"):
            raise ConfigError([f"the lexicon backend scores sentiment only, not the {head!r} head"])
        self.head = head
        self.labels = HEADS[head]
        self.rules = Rules(settings)
        self.version = self.rules.version

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(self.labels)))
        for i, text in enumerate(texts):
            senti = self.rules.lexicon(text)
            if self.head == "review":
                out[i] = [(1 - senti.polarity) / 2, (1 + senti.polarity) / 2]
            else:
                out[i, self.labels.index(senti.label)] = 1.0
        return out
