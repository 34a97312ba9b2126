from __future__ import annotations

import random

import pytest
from hypothesis import given

from nlp.simhash import BANDS, hamming, near_duplicate_share, simhash64
from nlp.spam import (
    SPAM_THRESHOLD,
    AccountFeatures,
    SpamVerdict,
    account_spam,
    combine,
    post_spam,
)
from tests.nlp.test_normalize import WILD_TEXT


@pytest.mark.parametrize(
    ("text", "reasons", "spam"),
    [
        ("兼职刷单，日赚300，加vx: abc12345", ("ad_phrase", "contact"), True),
        ("加微信 13812345678 免费领取试用装", ("ad_phrase", "contact"), True),
        ("代购日本药妆，私我", ("ad_phrase",), True),  # two phrases
        ("QQ：12345678 招代理", ("ad_phrase", "contact"), True),
        ("加➕V：shop_2024 看我主页", ("ad_phrase", "contact"), True),
        # circled and fullwidth digits are still a phone number
        ("咨询①③⑧①②③④⑤⑥⑦⑧", ("contact",), False),
        ("咨询１３８１２３４５６７８", ("contact",), False),
        ("@a @b @c @d @e 快来看", ("many_mentions",), False),
        ("#a# #b# #c# #d# 好", ("many_topics",), False),
        ("http://t.cn/A6abc", ("link_only",), False),
        ("关注我关注我关注我关注我关注我", ("repetition", "boilerplate"), False),
        ("我爱你我爱你我爱你我爱你", (), False),  # four times is how fans write
        ("互粉互关，关注必回", ("boilerplate",), False),
        ("@a @b @c @d @e http://t.cn/x", ("many_mentions", "link_only"), True),
        # ordinary posts
        ("今天的拿铁很好喝", (), False),
        ("哈哈哈哈哈哈哈哈哈哈哈哈", (), False),  # laughing is no spam
        ("哈" * 15, ("repeated_chars",), False),
        ("……………………[眼泪][眼泪][眼泪][眼泪][眼泪]", (), False),
        ("我是宝妈，今天带娃去公园", (), False),
        ("愿疫情早日结束，17日入院的病人已出院", (), False),  # 日结, 日入 inside other words
        ("你们自私我也自私", (), False),  # 私我 inside other words
        ("高二妹子如何月入上万", ("ad_phrase",), False),
        ("需要进群加v：357729047", ("ad_phrase", "contact"), True),
        ("推荐给大家 @小红 @小明", (), False),
        ("拾光咖啡新品上市，点击链接看看 http://t.cn/x", ("ad_phrase",), False),
        # a repost chain names many accounts: they are not the reposter's mentions
        ("好//@a://@b://@c://@d://@e:转发", (), False),
        ("轉發微博", (), False),
    ],
)
def test_post_spam(text: str, reasons: tuple[str, ...], spam: bool) -> None:
    verdict = post_spam(text)
    assert verdict.reasons == reasons
    assert verdict.is_spam is spam
    assert 0.0 <= verdict.score <= 1.0


def test_traditional_ad_phrases() -> None:
    assert "ad_phrase" in post_spam("兼職刷單，日賺三百").reasons


def test_combine() -> None:
    assert combine([]) == 0.0
    assert combine([0.5, 0.5]) == 0.75
    assert combine([1.0, 0.2]) == 1.0
    assert combine([2.0, -1.0]) == 1.0  # clamped


@given(WILD_TEXT)
def test_post_spam_never_raises(text: str) -> None:
    verdict = post_spam(text)
    assert 0.0 <= verdict.score <= 1.0
    assert len(set(verdict.reasons)) == len(verdict.reasons)


# --- accounts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("features", "reasons", "spam"),
    [
        (
            AccountFeatures(name="用户7261934455", followers=3, follows=1800),
            ("default_name", "follow_ratio"),
            False,
        ),
        (AccountFeatures(name="a8f3k2j9x1", followers=10), ("default_name",), False),
        (AccountFeatures(name="john_smith_2020", followers=10), (), False),
        (AccountFeatures(name="小明爱喝咖啡", followers=0), ("empty_profile",), False),
        (AccountFeatures(name="小明", followers=None, follows=5000), (), False),  # unknown counts
        (AccountFeatures(name="小明", followers=100, follows=1900), (), False),  # under 20x
        (
            AccountFeatures(name="小明", followers=5, posts_seen=10, duplicate_share=0.8),
            ("duplicates",),
            True,
        ),
        (
            AccountFeatures(name="小明", followers=5, posts_seen=1, duplicate_share=1.0),
            (),  # one post is too few to judge
            False,
        ),
        (
            AccountFeatures(name="小明", followers=5, posts_seen=10, spam_post_share=0.5),
            ("spam_posts",),
            False,
        ),
        (AccountFeatures(name="小明", followers=5, posts_per_day=80), ("posting_rate",), False),
        (AccountFeatures(name="小明", followers=5, posts_per_day=300), ("posting_rate",), True),
        (
            AccountFeatures(
                name="xiaoming12345678",
                followers=0,
                follows=900,
                posts_seen=10,
                duplicate_share=0.8,
                spam_post_share=0.5,
                posts_per_day=120,
            ),
            (
                "default_name",
                "follow_ratio",
                "empty_profile",
                "duplicates",
                "spam_posts",
                "posting_rate",
            ),
            True,
        ),
    ],
)
def test_account_spam(features: AccountFeatures, reasons: tuple[str, ...], spam: bool) -> None:
    verdict = account_spam(features)
    assert verdict.reasons == reasons
    assert verdict.is_spam is spam


def test_verified_accounts_are_damped() -> None:
    # a brand's official account reposts its own campaign text everywhere
    features = AccountFeatures(name="拾光咖啡", followers=5, posts_seen=10, duplicate_share=0.8)
    plain = account_spam(features)
    verified = account_spam(AccountFeatures(**{**features.__dict__, "verified": True}))
    assert plain.is_spam and not verified.is_spam
    assert verified.reasons == plain.reasons and verified.score < plain.score


def test_features_from_account() -> None:
    class Account:
        name, description, verified = "用户123456", None, False
        followers_count, follows_count, posts_count = 2, 900, 40

    f = AccountFeatures.from_account(Account(), posts_seen=3, posts_per_day=1.5)
    assert (f.name, f.description, f.followers, f.follows, f.posts) == (
        "用户123456",
        "",
        2,
        900,
        40,
    )
    assert f.posts_seen == 3 and f.posts_per_day == 1.5


def test_threshold() -> None:
    assert SpamVerdict(SPAM_THRESHOLD).is_spam and not SpamVerdict(SPAM_THRESHOLD - 0.01).is_spam


# --- near-duplicates ------------------------------------------------------------------------

AD = "加微信领取免费试用装，名额有限先到先得，错过再等一年，快来抢购吧"


@pytest.mark.parametrize(
    ("other", "close"),
    [
        (AD + "！", True),  # punctuation and emoji do not count
        (AD.replace("，", "😀"), True),
        ("加微信領取免費試用裝，名額有限先到先得，錯過再等一年，快來搶購吧", True),  # traditional
        (AD[:-1], True),  # one character fewer
        (AD + "吧", True),
        ("今天的晚霞很好看，和朋友去江边散步，吹着风聊着天", False),
    ],
)
def test_simhash_distance(other: str, close: bool) -> None:
    assert (hamming(simhash64(AD), simhash64(other)) <= 3) is close


def test_simhash_is_stable() -> None:
    # blake2b, not Python's salted hash(): the same value in every process
    assert simhash64(AD) == 0xE23CEA7A415A9704
    assert simhash64("") == simhash64("!!!") == 0
    assert 0 <= simhash64(AD) < 2**64


def test_near_duplicate_share() -> None:
    shares = near_duplicate_share(
        {
            "a": [AD, "今天的晚霞很好看，和朋友去江边散步"],
            "b": [AD + "！"],
            "c": ["周末去爬山，山顶的风好大，差点被吹跑"],
            "d": [],
        }
    )
    assert shares == {"a": 0.5, "b": 1.0, "c": 0.0, "d": 0.0}


def test_own_copies_and_short_posts_do_not_count() -> None:
    shares = near_duplicate_share(
        {
            "a": [AD, AD],  # the same author twice: not copying anyone
            "b": ["转发微博", "哈哈哈哈"],  # everybody writes these
            "c": ["转发微博", "哈哈哈哈"],
            "d": ["好//@a:" + AD],  # a repost quotes, it does not copy
        }
    )
    assert shares == {"a": 0.0, "b": 0.0, "c": 0.0, "d": 0.0}


def test_near_duplicate_share_max_distance() -> None:
    with pytest.raises(ValueError, match="max_distance"):
        near_duplicate_share({}, max_distance=BANDS)


def test_banding_finds_what_all_pairs_find() -> None:
    # 300 authors, some copying a few templates with small edits: banding must agree with the
    # O(n^2) definition
    rng = random.Random(7)
    words = "咖啡拿铁美式手冲豆子烘焙浓缩冷萃店铺拉花早上下午周末朋友一起喝杯好香"
    templates = ["".join(rng.choice(words) for _ in range(30)) for _ in range(5)]
    texts = {}
    for i in range(300):
        if i % 3 == 0:
            t = rng.choice(templates)
            texts[f"u{i}"] = [t[: rng.randrange(28, 31)]]
        else:
            texts[f"u{i}"] = ["".join(rng.choice(words) for _ in range(30))]
    hashes = {a: simhash64(ts[0]) for a, ts in texts.items()}
    expected = {
        a: float(any(b != a and hamming(h, g) <= 3 for b, g in hashes.items()))
        for a, h in hashes.items()
    }
    assert near_duplicate_share(texts) == expected
    assert sum(expected.values()) >= 100
