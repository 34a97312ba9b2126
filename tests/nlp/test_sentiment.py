from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp.classifier import LexiconClassifier
from nlp.normalize import normalize
from nlp.segment import Segmenter
from nlp.sentiment import SentimentModel, merge_phrases, parse_lexicon


@pytest.fixture(scope="module")
def model() -> SentimentModel:
    return SentimentModel(neutral_band=0.15)


def polarity(model: SentimentModel, seg: Segmenter, text: str) -> float:
    return model.score(seg.cut(normalize(text).text)).polarity


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("这个咖啡很好喝", "positive"),
        ("太棒了[爱你]", "positive"),
        ("好开心😊", "positive"),
        ("服务态度很差！", "negative"),
        ("不好喝", "negative"),  # negation flips a positive word
        ("不太满意", "negative"),  # a softened negation still flips
        ("好难吃", "negative"),  # 好 as a degree adverb, not as praise
        ("这个手机不怎么样", "negative"),
        ("再也不买了", "negative"),
        ("[泪][泪]", "negative"),
        ("房间干净，但是隔音很差", "negative"),  # what follows 但是 wins
        ("没有问题", "positive"),  # negated negative: faint praise
        ("今天出门了", "neutral"),
        ("美国人在香港", "neutral"),  # 美 and 香 do not fire inside place names
        ("這個咖啡很好喝", "positive"),  # traditional
    ],
)
def test_labels(model: SentimentModel, fast_segmenter: Segmenter, text: str, label: str) -> None:
    assert model.score(fast_segmenter.cut(normalize(text).text)).label == label


def test_degree_and_negation_strength(model: SentimentModel, fast_segmenter: Segmenter) -> None:
    def p(text: str) -> float:
        return polarity(model, fast_segmenter, text)

    assert p("非常满意") > p("满意") > p("有点满意") > 0
    assert p("不满意") < p("不太满意") < 0
    assert p("好喝！") > p("好喝") > p("好喝？") > 0


def test_emoticons_ignore_negation(model: SentimentModel, fast_segmenter: Segmenter) -> None:
    assert polarity(model, fast_segmenter, "不[哈哈]") > 0


def test_score_and_band() -> None:
    m = SentimentModel(neutral_band=0.5)
    assert m.label(0.4).label == "neutral"
    assert m.label(-0.6).label == "negative"
    assert m.label(0.8).score == pytest.approx(0.9)
    assert m.label(0.0).score == 1.0


def test_merge_phrases_joins_lexicon_terms() -> None:
    lex = parse_lexicon("不太满意\tword\t-1\n[笑cry]\tword\t1\n")
    assert merge_phrases(["不太", "满意", "[", "笑", "cry", "]"], lex) == ["不太满意", "[笑cry]"]


@pytest.mark.shared
def test_chnsenticorp_accuracy(shared_dir: Path, classifier: LexiconClassifier) -> None:
    """Measured when written: sign accuracy 0.810; 0.828 on the 89.5% not labelled neutral."""
    rows = [
        json.loads(line)
        for line in (shared_dir / "data/sentiment/chnsenticorp/test.jsonl").open(encoding="utf-8")
    ]
    preds = classifier.predict([r["text"] for r in rows])
    gold = [r["label"] == 1 for r in rows]
    sign_ok = sum((p.polarity > 0) == g for p, g in zip(preds, gold, strict=True))
    decided = [
        (p.sentiment == "positive", g)
        for p, g in zip(preds, gold, strict=True)
        if p.sentiment != "neutral"
    ]
    assert sign_ok / len(rows) > 0.78
    assert sum(a == b for a, b in decided) / len(decided) > 0.80
    assert len(decided) / len(rows) > 0.85
