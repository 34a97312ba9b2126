"""Text guardrails before approval: sensitive words, links, hidden characters, near-duplicates."""

from __future__ import annotations

import doctest
from datetime import timedelta

import pytest
from sqlmodel import Session

from bot import review, textcheck
from bot.textcheck import TextChecks, disallowed_links, problems, sensitive_hits
from crawlers.config import BotSettings
from crawlers.errors import ReviewError
from crawlers.models import Account
from tests.bot.test_review import make_draft
from tests.bot.world import T0

DEFAULTS = TextChecks.of(BotSettings())


@pytest.mark.parametrize(
    "text",
    [
        "加微信领福利",
        "加 微 信",
        "加\u200b微-信",
        "加微信".join("  "),
        "私信領取",
        "每天日赚三百",
        "加VX",
    ],
)
def test_sensitive_words_are_found_through_disguises(text: str) -> None:
    assert sensitive_hits(text, DEFAULTS.sensitive_words)


@pytest.mark.parametrize("text", ["这款拿铁很好喝", "微信支付很方便", "加油！信心满满"])
def test_ordinary_text_passes(text: str) -> None:
    assert problems(text, DEFAULTS) == []


def test_links_must_be_on_an_allowed_domain() -> None:
    text = "官网 https://www.brand.cn/p?id=1 活动 sub.brand.cn/x 还有 http://evil.com 和 t.cn/A6"
    assert disallowed_links(text, ["brand.cn"]) == ["http://evil.com", "t.cn/A6"]
    assert disallowed_links(text, []) == [
        "https://www.brand.cn/p?id=1", "sub.brand.cn/x", "http://evil.com", "t.cn/A6",
    ]  # fmt: skip
    assert disallowed_links("notbrand.cn 与 brand.cn.evil.com", ["brand.cn"]) == [
        "notbrand.cn", "brand.cn.evil.com",
    ]  # fmt: skip
    assert disallowed_links("价格 3.5 元，版本 v1.2", []) == []


def test_hidden_characters_are_named() -> None:
    found = problems("谢谢\u202e分享\u200d", DEFAULTS)
    assert found == [
        "holds hidden characters (RIGHT-TO-LEFT OVERRIDE, ZERO WIDTH JOINER): retype the text"
    ]


def test_approve_and_edit_refuse_problem_texts(session: Session) -> None:
    d = make_draft(session, text="扫码加微信，领取优惠")
    with pytest.raises(ReviewError, match=r"sensitive words 加微信.*rewrite it"):
        review.approve(session, d.id, "alice", now=T0)
    with pytest.raises(ReviewError, match=r"links to http://x\.com.*allowed: none"):
        review.edit(session, d.id, "看 http://x.com", "alice", now=T0)
    settings = BotSettings(allowed_link_domains=["brand.cn"])
    review.edit(session, d.id, "看官网 https://brand.cn/menu", "alice", now=T0, settings=settings)
    review.approve(session, d.id, "alice", now=T0, settings=settings)
    assert d.status == "approved"


def test_near_duplicates_of_approved_replies_are_refused(session: Session) -> None:
    session.add_all([Account(platform="weibo", platform_id=f"u{i}", name=n)
                     for i, n in enumerate(["阿一", "小明", "老王"], start=1)])  # fmt: skip
    session.commit()
    template = "你好{}～关于「手冲咖啡」这个问题，我们整理了一些经验，希望对你有帮助。"
    first = make_draft(session, account="u1", text=template.format("阿一"))
    second = make_draft(session, account="u2", text=template.format("小明"))
    review.approve(session, first.id, "alice", now=T0)
    # the same words to another person: refused, although the names differ
    with pytest.raises(ReviewError, match=rf"100% like draft {first.id}, already approved"):
        review.approve(session, second.id, "alice", now=T0)
    review.edit(session, second.id, "小明你好，手冲推荐先试试中浅烘的埃塞豆子，水温九十度左右。",
                "alice", now=T0)  # fmt: skip
    review.approve(session, second.id, "alice", now=T0)
    # outside the window the old reply no longer counts
    third = make_draft(session, account="u3", text=template.format("老王"))
    third.expires_at = T0 + timedelta(days=40)
    session.commit()
    with pytest.raises(ReviewError, match="already approved"):
        review.approve(session, third.id, "alice", now=T0 + timedelta(days=29))
    review.approve(session, third.id, "alice", now=T0 + timedelta(days=31))
    # a stricter threshold also catches loosely similar texts
    assert BotSettings(duplicate_similarity=0.3).duplicate_similarity == 0.3


def test_docstring_examples() -> None:
    result = doctest.testmod(textcheck)
    assert result.attempted > 0 and result.failed == 0


def test_reviewer_accounts_and_no_self_approval(session: Session) -> None:
    team = BotSettings(reviewers=["alice", "bob"])
    d = make_draft(session, text="谢谢分享，冷萃确实更顺口")
    # someone who is not a reviewer can do nothing
    for call in (
        lambda: review.approve(session, d.id, "mallory", now=T0, settings=team),
        lambda: review.edit(session, d.id, "改一下", "mallory", now=T0, settings=team),
        lambda: review.reject(session, d.id, "mallory", now=T0, settings=team),
    ):
        with pytest.raises(ReviewError, match="'mallory' is not a reviewer"):
            call()
    review.edit(session, d.id, "谢谢分享！冷萃确实更顺口", "bob", now=T0, settings=team)
    # bob wrote the text: he cannot approve it, alice can
    with pytest.raises(ReviewError, match="last edited by bob.*Ask another reviewer"):
        review.approve(session, d.id, "bob", now=T0, settings=team)
    review.approve(session, d.id, "alice", now=T0, settings=team)
    assert d.status == "approved" and d.reviewed_by == "alice"
    # without reviewer accounts (one-person teams) the editor may approve
    solo = make_draft(session, account="u2", text="手冲可以试试中浅烘")
    review.edit(session, solo.id, "手冲可以先试中浅烘的豆子", "bob", now=T0)
    review.approve(session, solo.id, "bob", now=T0)
