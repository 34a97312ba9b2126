from __future__ import annotations

import pytest

from crawlers.config import DEFAULT_INTERESTS
from nlp.classifier import LexiconClassifier
from nlp.intent import detect_intents
from nlp.interest import InterestMatcher


@pytest.mark.parametrize(
    ("text", "intents"),
    [
        ("这家咖啡好喝吗？", ["question"]),  # asking about taste is not praise
        ("求推荐一款咖啡豆", ["question"]),  # 求推荐 asks, it does not recommend
        ("不好喝，差评，要退款", ["complaint"]),
        ("不推荐", ["complaint"]),
        ("想入手这个口红，求链接", ["purchase_intent"]),
        ("强烈推荐，好喝到爱了，必回购", ["praise"]),
        ("被种草了，在哪买？", ["question", "purchase_intent"]),
        ("今天天气不错", []),
    ],
)
def test_intents(text: str, intents: list[str]) -> None:
    assert detect_intents(text) == intents


def test_intents_on_traditional_text(classifier: LexiconClassifier) -> None:
    (labels,) = classifier.predict(["這家咖啡太難喝了，再也不買"])
    assert labels.intents == ["complaint"]


@pytest.fixture(scope="module")
def matcher() -> InterestMatcher:
    return InterestMatcher(DEFAULT_INTERESTS)


def test_token_and_substring_matches(matcher: InterestMatcher) -> None:
    # 拿铁 is no jieba word (拿/铁), so only the substring finds it: half a match
    assert matcher.scores("一杯拿铁", ["一杯", "拿", "铁"]) == {"coffee": 0.5}
    assert matcher.match("一杯拿铁", ["一杯", "拿", "铁"]) == []
    assert matcher.match("咖啡和拿铁", ["咖啡", "和", "拿", "铁"]) == ["coffee"]


def test_topics_count(matcher: InterestMatcher) -> None:
    assert matcher.match("今天好开心", ["今天", "好", "开心"], topics=["健身打卡"]) == ["fitness"]


def test_best_first_and_case_insensitive(matcher: InterestMatcher) -> None:
    tokens = ["Steam", "游戏", "和", "咖啡"]
    assert matcher.match("Steam游戏和咖啡", tokens) == ["gaming", "coffee"]


def test_classifier_interests(classifier: LexiconClassifier) -> None:
    (labels,) = classifier.predict(["#咖啡探店# 這家咖啡館的手沖很好喝"])
    assert labels.interests[0] == "coffee"
    assert "food" in labels.interests  # 探店 in the topic
