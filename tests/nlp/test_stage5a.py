from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nlp.intent import detect_intents
from nlp.normalize import normalize
from nlp.stage5a import STAGES, brand_stage, furthest_stage, furthest_stages
from tests.nlp.test_normalize import WILD_TEXT

BRAND = ("拾光咖啡", "Shiguang")


def stage(text: str, sentiment: str = "neutral") -> str | None:
    """The stage as the label stage computes it: intents from the normalized text."""
    return brand_stage(text, BRAND, detect_intents(normalize(text).text), sentiment)


@pytest.mark.parametrize(
    ("text", "sentiment", "expected"),
    [
        # aware: names the brand, no opinion
        ("在地铁上看到了拾光咖啡的广告", "neutral", "aware"),
        ("拾光咖啡新店开业了，官方公告", "neutral", "aware"),
        ("@小红 拾光咖啡新品上市了", "neutral", "aware"),  # tagging without liking
        # appeal: attracted
        ("拾光咖啡的新杯子好看到心动", "positive", "appeal"),
        ("被拾光咖啡种草了，好想试试", "positive", "appeal"),
        ("拾光咖啡看起来好好喝", "positive", "appeal"),  # hedged: not tasted
        ("没喝过拾光咖啡，想试试", "neutral", "appeal"),
        ("shiguang coffee is great", "positive", "appeal"),
        # ask
        ("拾光咖啡好喝吗？有人喝过吗", "neutral", "ask"),  # 有人喝过 asks others
        ("拾光咖啡的冷萃多少钱", "neutral", "ask"),
        ("求链接！拾光咖啡挂耳在哪买", "neutral", "ask"),
        ("拾光咖啡在哪买的？", "neutral", "ask"),
        ("@拾光咖啡官方 什么时候出新品？", "neutral", "ask"),  # the brand's own account
        # act
        ("今天下单了拾光咖啡的挂耳", "neutral", "act"),
        ("中午喝了拾光咖啡，还行", "neutral", "act"),
        ("打卡拾光咖啡新店", "positive", "act"),
        ("拾光咖啡的拿铁好喝", "positive", "act"),  # a taste verdict needs a taste
        ("買了拾光咖啡的挂耳", "neutral", "act"),  # traditional input
        # a complaint is an act, and caps the stage there
        ("拾光咖啡难喝死了，退款！", "negative", "act"),
        ("回购三次的拾光咖啡这次翻车了，失望", "negative", "act"),
        ("拾光咖啡不推荐", "negative", "act"),
        # advocate
        ("强烈推荐拾光咖啡的燕麦拿铁！", "positive", "advocate"),
        ("已回购，拾光咖啡yyds", "positive", "advocate"),
        ("這家拾光咖啡很好喝，推薦！", "positive", "advocate"),
        ("@小红 @小明 拾光咖啡超好喝，快去买", "positive", "advocate"),
        ("拾光咖啡太棒了 @小红", "positive", "advocate"),  # tagging friends in praise
        # a repost: the reposter's own words decide; the quoted praise makes it appeal
        ("好//@小明:拾光咖啡超好喝", "positive", "appeal"),
        ("买了！//@小明:拾光咖啡出新品了", "neutral", "act"),
        ("拾光咖啡求推荐哪款好喝", "neutral", "ask"),  # 求推荐 asks, it does not advocate
    ],
)
def test_brand_stage(text: str, sentiment: str, expected: str) -> None:
    assert stage(text, sentiment) == expected


@pytest.mark.parametrize(
    "text",
    [
        "今天天气不错",
        "someone said shiguangs",  # a Latin brand term stands as a word of its own
        "看看这个 https://shiguang.example.com/x",  # in a URL only
        "",
    ],
)
def test_no_brand_no_stage(text: str) -> None:
    assert stage(text, "positive") is None


def test_brand_terms_are_normalized() -> None:
    # a traditional or upper-case term matches simplified, lower-cased text
    assert brand_stage("拾光咖啡真不错", ["拾光咖啡"], [], "neutral") == "aware"
    assert brand_stage("拾光咖啡真不错", ["拾光咖啡", " "], [], "neutral") == "aware"
    assert brand_stage("SHIGUANG新品", ["ShiGuang"], [], "neutral") == "aware"
    assert brand_stage("拾光咖啡", [], [], "neutral") is None


def test_ordering_when_cues_mix() -> None:
    # ask + act -> act; appeal + ask -> ask; act + advocate -> advocate
    assert stage("买了拾光咖啡的豆子，怎么冲比较好？") == "act"
    assert stage("好想喝拾光咖啡，哪里买？") == "ask"
    assert stage("喝了三年拾光咖啡，推荐给大家", "positive") == "advocate"


def test_furthest_stage() -> None:
    assert furthest_stage(["aware", None, "act", "appeal"]) == "act"
    assert furthest_stage([None, None]) is None
    assert furthest_stage([]) is None
    assert furthest_stage(["unknown", "ask"]) == "ask"  # stale values are skipped
    assert furthest_stage(iter(STAGES)) == "advocate"


def test_furthest_stages() -> None:
    per_post = [{"A": "aware", "B": "act"}, {}, {"A": "ask"}, {"B": "appeal"}]
    assert furthest_stages(per_post) == {"A": "ask", "B": "act"}


@given(
    WILD_TEXT,
    st.lists(st.sampled_from(["question", "complaint", "purchase_intent", "praise"])),
    st.sampled_from(["positive", "negative", "neutral"]),
)
def test_brand_stage_never_raises(text: str, intents: list[str], sentiment: str) -> None:
    found = brand_stage(text + "拾光咖啡", BRAND, intents, sentiment)
    assert found in STAGES
    assert brand_stage(text, ["\udcff", ""], intents, sentiment) in (*STAGES, None)
