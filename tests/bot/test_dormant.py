"""Re-engaging dormant fans (沉睡会员唤醒): who counts as a dormant fan, and what is drafted."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot import drafts, review
from crawlers.config import default_settings
from crawlers.models import Draft, Interaction
from tests.bot.world import CAMPAIGN, T0, add_account, add_post


def interact(session: Session, src: str, dst: str, when: datetime, n: int = 1) -> None:
    for i in range(n):
        session.add(Interaction(platform="weibo", kind="comment", src_id=src, dst_id=dst,
                                post_id=f"c-{src}-{dst}-{when.timestamp()}-{i}",
                                created_at=when))  # fmt: skip


def world(session: Session) -> None:
    """brand is the campaign's own account. loyal: 5 comments, 60 days ago; once: 1 comment, 60
    days ago; active: 3 comments, one yesterday; silent2: 2 comments 40 days ago but no post."""
    add_account(session, "brand", "拾光咖啡官方")
    for uid, name in [("loyal", "老粉"), ("once", "路人"), ("active", "常客"), ("silent2", "潜水")]:
        add_account(session, uid, name)
    interact(session, "loyal", "brand", T0 - timedelta(days=60), n=5)
    interact(session, "once", "brand", T0 - timedelta(days=60))
    interact(session, "active", "brand", T0 - timedelta(days=50), n=2)
    interact(session, "active", "brand", T0 - timedelta(days=1))
    interact(session, "silent2", "brand", T0 - timedelta(days=40), n=2)
    add_post(session, "p-old", "loyal", "以前常喝拿铁", at=T0 - timedelta(days=90),
             interests=["coffee"])  # fmt: skip
    add_post(session, "p-new", "loyal", "最近在研究手冲", at=T0 - timedelta(days=2),
             topics=["手冲咖啡"], interests=["coffee"])  # fmt: skip
    add_post(session, "p-once", "once", "路过", interests=[])
    add_post(session, "p-active", "active", "今天也来一杯", interests=["coffee"])
    session.commit()


def settings(**bot: object):  # type: ignore[no-untyped-def]
    camp = {**CAMPAIGN, "own_accounts": ["brand"]}
    return default_settings(
        campaigns={"cafe": camp},
        bot={"follow_top_k": 0, "lookalike_top_k": 0, "reply_to_questions": False,
             "repost_top_k": 0, **bot},
    )  # fmt: skip


def dormant(session: Session) -> list[Draft]:
    stmt = select(Draft).where(Draft.rule == "reengage_dormant").order_by(col(Draft.id))
    return list(session.exec(stmt).all())


def test_only_loyal_silent_fans_get_a_reply_to_their_latest_post(session: Session) -> None:
    world(session)
    assert drafts.run(session, settings(), now=T0) == 1
    (d,) = dormant(session)
    # not "once" (one interaction), not "active" (commented yesterday), not "silent2" (no post)
    assert (d.target_account, d.target_post, d.kind) == ("loyal", "p-new", "reply")
    assert d.text == "好久不见老粉～看到你在聊「手冲咖啡」，拾光咖啡一直记得你，最近怎么样？"
    assert d.evidence["fan"]["interactions"] == 5 and d.evidence["fan"]["days_silent"] == 60
    assert d.evidence["rule"]["why"] == "a fan of 拾光咖啡官方 (5 interactions), silent for 60 days"
    # nothing new on a re-run, and a fan with a queued reply gets no second one
    assert drafts.run(session, settings(), now=T0 + timedelta(hours=1)) == 0


def test_thresholds_and_suppression(session: Session) -> None:
    world(session)
    review.suppress(session, "weibo", "loyal", "alice", "asked us to stop")
    assert drafts.run(session, settings(dormant_min_interactions=1), now=T0) == 1
    assert [d.target_account for d in dormant(session)] == ["once"]
    # 70 days of silence needed: nobody qualifies
    session2_settings = settings(dormant_days=70, dormant_min_interactions=1)
    assert drafts.run(session, session2_settings, now=T0) == 0


def test_no_own_accounts_no_rule(session: Session) -> None:
    world(session)
    plain = default_settings(campaigns={"cafe": CAMPAIGN},
                             bot={"follow_top_k": 0, "repost_top_k": 0})  # fmt: skip
    drafts.run(session, plain, now=T0)
    assert dormant(session) == []
