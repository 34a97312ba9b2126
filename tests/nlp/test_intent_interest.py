from __future__ import annotations

import pytest
from hypothesis import given

from crawlers.config import DEFAULT_INTERESTS
from nlp.classifier import LexiconClassifier
from nlp.intent import INTENTS, detect_intents
from nlp.interest import EXAMPLE_THRESHOLD, ExampleInterests, InterestMatcher
from nlp.normalize import normalize
from tests.nlp.test_normalize import WILD_TEXT


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
        # rhetorical questions complain; a real question in another clause still counts
        ("凭什么不给退款？", ["complaint"]),
        ("难道就这样不管了吗？？", ["complaint"]),
        ("你们还好意思涨价？", ["complaint"]),
        ("凭什么不给退款？到底怎么退？", ["question", "complaint"]),
        ("不好意思问一下，这个在哪买？", ["question", "purchase_intent"]),  # 不好意思 is polite
        ("怎么这么好喝！", ["praise"]),  # an exclamation, not a question
        # purchase intent
        ("蹲一个链接", ["purchase_intent"]),
        ("这个多少钱", ["question", "purchase_intent"]),
        ("已加购，等双十一", ["purchase_intent"]),
        ("不想买了", []),
        ("想要一个男朋友", []),  # wanting is not buying
        # praise and advocacy
        ("已回购三次，无限回购", ["praise"]),
        ("安利给姐妹们，闭眼入不踩雷", ["praise"]),  # 不踩雷 is no complaint
        ("不得不推荐这家店", ["praise"]),
        ("零差评，从不翻车", ["praise"]),
        ("后悔没早点买", ["praise"]),
        ("给大家种草一款口红", ["praise"]),  # recommending, not wanting
        ("国货彩妆天花板", ["praise"]),
        ("天花板漏水了", []),
        ("值不值得买？", ["question"]),
        # complaints of real-looking posts
        ("再也不买了，智商税", ["complaint"]),
        ("客服半天不回复！收到后还少发了两款货", ["complaint"]),
        ("动不动就卡纸，感觉不会再爱了", ["complaint"]),
        ("手机买了12天就降了300", ["complaint"]),
        ("有了它再也不用担心熬夜了", []),
        ("售后很贴心，第二天就换了新的", []),
    ],
)
def test_intents(text: str, intents: list[str]) -> None:
    assert detect_intents(text) == intents


def test_intents_on_traditional_text(classifier: LexiconClassifier) -> None:
    (labels,) = classifier.predict(["這家咖啡太難喝了，再也不買"])
    assert labels.intents == ["complaint"]


def test_traditional_advocacy_after_normalizing() -> None:
    assert detect_intents(normalize("強烈推薦，已經回購了").text) == ["praise"]


@given(WILD_TEXT)
def test_detect_intents_never_raises(text: str) -> None:
    # the rules see normalized text in the pipeline, but must not depend on it
    for t in (text, normalize(text).text):
        found = detect_intents(t)
        assert found == [i for i in INTENTS if i in found]


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


# --- interests by example posts ---------------------------------------------------------

EXAMPLES = {
    "cats": [
        "家里的橘猫又胖了，每天只想睡觉",
        "给猫咪换了新猫粮，它吃得很香",
        "带猫去打疫苗，一路上叫个不停",
        "铲屎官的日常：清猫砂、陪猫玩逗猫棒",
    ],
    "camping": [
        "周末去山里露营，搭帐篷看星星",
        "新买的天幕和折叠椅，露营装备终于齐了",
        "营地晚上好冷，睡袋一定要带厚的",
        "露营做了烧烤和手冲，太惬意了",
    ],
    "console": [
        "switch上的塞尔达玩了一百个小时",
        "PS5手柄的震动反馈太真实了",
        "周末和朋友用switch玩马里奥派对",
        "新买的游戏机，终于玩上了艾尔登法环",
    ],
}


@pytest.fixture(scope="module")
def by_example() -> ExampleInterests:
    return ExampleInterests(EXAMPLES)


@pytest.mark.parametrize(
    ("text", "interest"),
    [
        # paraphrases: other words, other order, the same topic
        ("我家猫咪最近胖了好多，天天睡", "cats"),
        ("猫粮换了个牌子，猫主子很爱吃", "cats"),
        ("第一次露营，在湖边搭了帐篷", "camping"),
        ("山上夜里很冷，幸亏带了厚睡袋", "camping"),
        ("和室友一起玩Switch派对游戏", "console"),  # Latin words match case-insensitively
        ("塞爾達太好玩了，停不下來", "console"),  # traditional input
    ],
)
def test_paraphrases_match(by_example: ExampleInterests, text: str, interest: str) -> None:
    assert by_example.match(text)[:1] == [interest]


@pytest.mark.parametrize(
    "text",
    [
        "今天加班到很晚，地铁上人好多",
        "期末考试终于结束了，准备回家",
        "这家火锅店的毛肚很新鲜",
        "Publicity attracts friends, prosperity attaches friends",  # English shares letters
        "",
        "http://t.cn/A6abc",
    ],
)
def test_unrelated_posts_do_not(by_example: ExampleInterests, text: str) -> None:
    assert by_example.match(text) == []
    assert max(by_example.scores(text).values(), default=0.0) < EXAMPLE_THRESHOLD


def test_example_interests_threshold_and_order(by_example: ExampleInterests) -> None:
    text = "露营的时候带着switch，在帐篷里玩塞尔达"
    scores = by_example.scores(text)
    matched = by_example.match(text)
    assert set(matched) == {"camping", "console"}
    assert matched == sorted(matched, key=lambda k: -scores[k])  # best first
    assert ExampleInterests(EXAMPLES, threshold=1.01).match(text) == []


def test_example_interests_without_examples() -> None:
    assert ExampleInterests({}).match("露营") == []
    assert ExampleInterests({"empty": []}).match("露营") == []


def test_long_posts_stay_linear() -> None:
    # a clause-wide pattern once backtracked quadratically: 7 s for one 10,000-character post
    for text in ("好" * 10_000, "凭什么？" * 2_500, "推荐" * 5_000):
        assert isinstance(detect_intents(text), list)
